/**
 * Shared by the config-language tests: the real CLI, the registry with the built-in
 * kinds, the generated JSON Schema compiled by a real validator (ajv), YAML as the
 * engine reads it (merge keys on).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { Registry } from '../../pipeline/registry.ts';
import { configJsonSchema, type JsonSchema } from '../../pipeline/schema.ts';
import { registerBuiltins } from '../../stages/index.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'attrib.js');
export const TOY = join(ROOT, 'tests', 'fixtures', 'engine', 'toy.yaml');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/attrib.js ...args` (plain progress: CI=true, no TTY). */
export function attrib(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, CI: 'true', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export function tmp(prefix = 'attrib-cl-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function builtinRegistry(): Registry {
  const registry = new Registry();
  registerBuiltins(registry);
  return registry;
}

export function compile(schema: JsonSchema): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true });
  return ajv.compile(schema);
}

let cached: ValidateFunction | undefined;
/** The built-in kinds' schema, compiled once per test file. */
export function builtinValidator(): ValidateFunction {
  cached ??= compile(configJsonSchema(builtinRegistry()).schema);
  return cached;
}

/** YAML as the engine reads it: anchors, aliases and `<<` merge keys resolved. */
export function readYaml(text: string): unknown {
  return parse(text, { merge: true });
}

/** Every *.yaml under a folder of the repository (recursive). */
export function yamlFiles(dir: string): string[] {
  const full = join(ROOT, dir);
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}
