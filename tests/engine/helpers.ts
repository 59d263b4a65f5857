/**
 * Shared by the engine tests: spawn the real CLI (`node bin/attrib.js ...`) and write
 * toy configs into temporary folders. The toy kinds come in through the fixture plugin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'attrib.js');
export const FIXTURES = join(ROOT, 'tests', 'fixtures', 'engine');
export const PLUGIN = join(FIXTURES, 'toy-plugin.ts');

export function tmp(prefix = 'attrib-engine-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/** Starts the CLI; the caller may kill it. Progress is plain (CI=true, no TTY). */
export function start(args: string[], opts: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, CI: 'true', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

export function attrib(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return start(args, opts).done;
}

/** Writes a config into `dir`; `PLUGIN` in the text becomes the toy plugin's absolute path. */
export function writeConfig(dir: string, text: string, name = 'config.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, text.replaceAll('PLUGIN', PLUGIN));
  return path;
}

/** Lines the toy `square` kind appended to ATTRIB_TOY_LOG: one per unit execution. */
export function executions(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The run.json of an experiment under `runs`. */
export function runJson(runs: string, experiment: string): Record<string, { hash: string; status: string; metrics: Record<string, unknown>; error?: string }> {
  return readJson(join(runs, experiment, 'run.json'));
}

export function entry(runs: string, hash: string): string {
  return join(runs, 'store', hash);
}

export function finishedUnits(runs: string, hash: string): number {
  const dir = join(entry(runs, hash), 'units');
  return existsSync(dir) ? readdirSync(dir).filter((n) => existsSync(join(dir, n, 'unit.json'))).length : 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it holds (or fails the test after `ms`). */
export async function waitFor(check: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await sleep(50);
  }
}
