/**
 * The one test rig. Two ways to run attrib, both the real thing:
 *
 *   startCli / cli   the CLI (`node bin/attrib.js ...`) in a child process, with plain
 *                    progress (CI=true, no TTY); stdout, stderr, exit code and signal
 *   runStage         one stage kind in-process through the engine's own performTask
 *                    (pipeline/task.ts), in a store under a temporary runs folder
 *
 * and the means to drive a run from the test: `Gate` holds the units of a gated kind
 * (tests/fixtures/engine/gate-plugin.ts) until the test opens them, and `waitUntil`
 * waits for a condition the test names (its time limit only turns a hang into a failure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATE_ENV, openFile, REACHED } from '../fixtures/engine/gate-plugin.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'attrib.js');
export const GATE_PLUGIN = join(ROOT, 'tests', 'fixtures', 'engine', 'gate-plugin.ts');

/** A fresh temporary folder. */
export function tmp(prefix = 'attrib-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Added to the environment; an undefined value removes a variable. */
  env?: Record<string, string | undefined>;
}

/** A running CLI: live output so far, and its end. */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  done: Promise<CliResult>;
}

/** Starts `node bin/attrib.js ...args`; the caller may kill it. */
export function startCli(args: string[], opts: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, CI: 'true', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
  };
}

/** Runs the CLI to its end. */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** A process's end, or a failure after `ms` (the process is killed then). */
export async function finished(p: CliProcess, ms: number): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`timed out after ${ms / 1000}s; stderr so far:\n${p.stderr}\nstdout:\n${p.stdout}`));
    }, ms);
  });
  try {
    return await Promise.race([p.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `check` holds, looking every 50 ms. `ms` is not a timing assertion: it only
 * turns a condition that never comes into a failure that names `what`.
 */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 5 * 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await sleep(50);
  }
}

/** One unit of a gated kind that reached the gate. */
export interface GateArrival {
  hash: string;
  index: number;
  pid: number;
}

/**
 * The test's side of the gate in tests/fixtures/engine/gate-plugin.ts. Pass `env` to the
 * CLI; units of a `gated-<kind>` stage then report when they reach the gate and wait
 * there until `open(i)` (or `openAll()`).
 */
export class Gate {
  readonly dir = tmp('attrib-gate-');
  readonly env: Record<string, string> = { [GATE_ENV]: this.dir };

  /** Every arrival at the gate so far, in order (a unit run twice arrives twice). */
  arrivals(): GateArrival[] {
    const path = join(this.dir, REACHED);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [hash, index, pid] = line.split(' ');
        return { hash: hash!, index: Number(index), pid: Number(pid) };
      });
  }

  /**
   * Waits until `count` units have reached the gate (counting only process `pid`'s, when
   * given) and returns those arrivals. Which units the engine starts first is its choice,
   * so tests wait for a number of arrivals, then open the ones they got.
   */
  async arrived(count: number, pid?: number): Promise<GateArrival[]> {
    const mine = () => this.arrivals().filter((a) => pid === undefined || a.pid === pid);
    await waitUntil(`${count} units at the gate`, () => mine().length >= count);
    return mine();
  }

  open(index: number): void {
    writeFileSync(join(this.dir, openFile(index)), '');
  }

  openAll(): void {
    writeFileSync(join(this.dir, openFile('all')), '');
  }
}
