/**
 * Shared by the engine tests: the rig's CLI (tests/helpers/rig.ts) under the names these
 * tests use, toy configs in temporary folders, and what the toy kinds leave behind. The
 * toy kinds come in through the fixture plugin.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/rig.ts';

export { BIN, cli as attrib, ROOT, startCli as start, tmp, type CliOptions, type CliResult } from '../helpers/rig.ts';

export const FIXTURES = join(ROOT, 'tests', 'fixtures', 'engine');
export const PLUGIN = join(FIXTURES, 'toy-plugin.ts');

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
