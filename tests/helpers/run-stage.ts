/**
 * Runs one stage kind in-process, without the engine: the tests of a stage kind's math
 * use it so they depend on the kind alone. It follows the engine's contract
 * (pipeline/registry.ts): units write into a staging folder that becomes units/<i>,
 * combine/run write into a staging folder whose files land in the entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Artifact, Metrics, Registry, StageHash, StageKind, StageOutcome } from '../../pipeline/registry.ts';
import { hasUnits, paramsSchema } from '../../pipeline/registry.ts';
import { builtins } from './builtins.ts';

export interface DirectRun {
  params?: unknown;
  inputs?: Record<string, Artifact>;
  /** Experiment seed (default 0). */
  seed?: number;
  /** Store entry to write into (default: a fresh temporary folder). */
  dir?: string;
  /** Run only these units (to emulate a killed run); combine is skipped when set. */
  onlyUnits?: number[];
  log?: (message: string) => void;
  /** Whose data sources and model kinds the stage sees (default: the built-in ones). */
  registry?: Registry;
}

export function tempDir(prefix = 'attrib-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function seed32(...labels: unknown[]): number {
  return createHash('sha256').update(JSON.stringify(labels)).digest().readUInt32LE(0);
}

function moveContents(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) renameSync(join(from, name), join(to, name));
  rmSync(from, { recursive: true, force: true });
}

/** Runs `kind` and returns the Artifact a downstream stage would receive. */
export async function runStage(kind: StageKind, run: DirectRun = {}): Promise<Artifact & { outcome: StageOutcome }> {
  const registry = run.registry ?? builtins();
  const params = paramsSchema(kind, registry).parse(run.params ?? {});
  const inputs = run.inputs ?? {};
  const seed = run.seed ?? 0;
  const hash = createHash('sha256')
    .update(JSON.stringify({ kind: kind.name, version: kind.version, params, inputs: Object.fromEntries(Object.entries(inputs).map(([k, a]) => [k, a.hash])), seed }))
    .digest('hex') as StageHash;
  const dir = run.dir ?? tempDir();
  mkdirSync(dir, { recursive: true });
  const base = {
    params,
    inputs,
    hash,
    seed: seed32(String(seed), hash),
    backend: process.env.ATTRIB_TEST_BACKEND ?? 'wasm',
    dir,
    log: run.log ?? (() => {}),
    registry,
  };
  let outcome: StageOutcome = {};
  let units = 0;
  if (hasUnits(kind)) {
    const staging0 = join(dir, '.staging-count');
    units = await kind.units({ ...base, outDir: staging0 });
    rmSync(staging0, { recursive: true, force: true });
    const outcomes: StageOutcome[] = [];
    for (let i = 0; i < units; i++) {
      if (run.onlyUnits && !run.onlyUnits.includes(i)) continue;
      const staging = join(dir, `.staging-unit-${i}`);
      mkdirSync(staging, { recursive: true });
      const result = (await kind.runUnit({ ...base, seed: seed32(String(seed), hash, String(i)), index: i, count: units, outDir: staging, progress: () => {} })) ?? {};
      writeFileSync(join(staging, 'unit.json'), JSON.stringify(result));
      moveContents(staging, join(dir, 'units', String(i)));
      outcomes[i] = result;
    }
    if (!run.onlyUnits) {
      const staging = join(dir, '.staging-combine');
      mkdirSync(staging, { recursive: true });
      outcome = (await kind.combine({ ...base, outDir: staging, count: units, unitDir: (i) => join(dir, 'units', String(i)), unitOutcomes: outcomes })) ?? {};
      moveContents(staging, dir);
    }
  } else {
    const staging = join(dir, '.staging-run');
    mkdirSync(staging, { recursive: true });
    outcome = (await kind.run({ ...base, outDir: staging })) ?? {};
    moveContents(staging, dir);
  }
  const metrics: Metrics = outcome.metrics ?? {};
  return { kind: kind.output, stageKind: kind.name, hash, dir, params, metrics, units, inputs, outcome };
}
