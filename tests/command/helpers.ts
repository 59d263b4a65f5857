/**
 * Shared by the command-stage tests: a tiny synthetic data set, two masks, and the
 * fixture script tests/fixtures/command/fake.py (plain Python, no numpy), run through
 * the real CLI so the engine's staging, cleanup and run.json are what is tested.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../engine/helpers.ts';

export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const FAKE = join(ROOT, 'tests', 'fixtures', 'command', 'fake.py');

/** data + masks stages of every command test config (identical, so they are computed once per runs folder). */
export const DATA_STAGES = `  data: {kind: dataset, params: {source: {kind: synthetic, dim: 4}, train: 30, test: 10}}
  masks: {kind: subsets, inputs: {data: data}, params: {count: 2, alpha: 0.5}}
`;

/** The start of a test config: its name and the data and masks stages; stages follow. */
export function configHead(name: string): string {
  return `name: ${name}\nseed: 0\nstages:\n${DATA_STAGES}`;
}

/** A config whose `models` stage runs fake.py in `mode`, plus `extra` params lines. */
export function modelsConfig(name: string, mode: string, extra = '', command = `[${PYTHON}, ${FAKE}, model, "\${out}", "\${input.data}", "\${mask_file}"]`): string {
  return `${configHead(name)}  models:
    kind: command-models
    inputs: {data: data, masks: masks}
    params:
      command: ${command}
      env: {MODE: ${mode}}
${extra}`;
}

/** What an entry holds besides its lock: a failed stage must leave only its stage.json. */
export function entryFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n !== '.lock').sort() : [];
}
