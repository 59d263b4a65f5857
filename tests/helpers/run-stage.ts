/**
 * Runs one stage kind in-process through the engine's own performTask (pipeline/task.ts):
 * the tests of a kind's math use it so they depend on the kind and the engine's staging,
 * not on a copy of either. Each call gets a store under a fresh runs folder; hand-made
 * input Artifacts (tests/*\/fakes.ts, helpers.ts) are adopted into it as finished entries:
 * store/<hash> links to the artifact's folder, which gets a manifest if it has none.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import type { Artifact, Metrics, StageHash, StageKind, StageOutcome } from '../../pipeline/registry.ts';
import { hasUnits, paramsSchema, Registry } from '../../pipeline/registry.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { builtins } from './builtins.ts';
import { Store, type StageRecord } from '../../pipeline/store.ts';
import { performTask, writeStageManifest, type TaskHooks, type UnitRecord } from '../../pipeline/task.ts';
import { tmp } from './rig.ts';

export interface DirectRun {
  params?: unknown;
  inputs?: Record<string, Artifact>;
  /** Experiment seed (default 0). */
  seed?: number;
  /** Store entry to write into (default: a fresh one); a second call with it resumes there. */
  dir?: string;
  /** Run only these units (to emulate a killed run); combine is skipped when set. */
  onlyUnits?: number[];
  log?: (message: string) => void;
  /** Whose data sources and model kinds the stage sees (default: the built-in ones). */
  registry?: Registry;
}

export const tempDir = tmp;

/**
 * The hash of a direct run: kind, version, params, input hashes and seed, as JSON in
 * insertion order. Not pipeline/hash.ts's stageHash: the seeds the numeric tests were
 * pinned with derive from this one, so it stays as it was.
 */
function directHash(kind: StageKind, params: unknown, inputs: Record<string, Artifact>, seed: number): StageHash {
  const inputHashes = Object.fromEntries(Object.entries(inputs).map(([k, a]) => [k, a.hash]));
  return createHash('sha256').update(JSON.stringify({ kind: kind.name, version: kind.version, params, inputs: inputHashes, seed })).digest('hex') as StageHash;
}

/** Makes `artifact` (and its inputs) finished entries of `store`, linked to their folders. */
function adopt(store: Store, artifact: Artifact): void {
  if (existsSync(store.entry(artifact.hash))) return;
  for (const upstream of Object.values(artifact.inputs)) adopt(store, upstream);
  mkdirSync(store.root, { recursive: true });
  symlinkSync(artifact.dir, store.entry(artifact.hash), 'dir');
  if (store.readManifest(artifact.hash).ok) return;
  const inputs = Object.fromEntries(Object.entries(artifact.inputs).map(([name, a]) => [name, a.hash]));
  store.writeManifest({
    kind: artifact.stageKind, version: 'test', hash: artifact.hash, output: artifact.kind, params: artifact.params, inputs, seed: 0,
    backend: 'test', units: artifact.units, started: '', finished: '', seconds: 0, metrics: artifact.metrics, info: {}, files: {}, attrib: 'test', node: process.version,
  });
}

/**
 * The built-in registry when `kind` is one of its kinds, else a fresh one with the
 * built-ins (data sources, model kinds) and `kind`: the engine runs a stage with the
 * registry it was registered in.
 */
function registryWith(kind: StageKind): Registry {
  if (builtins().stage(kind.name) === kind) return builtins();
  const registry = new Registry();
  registerBuiltins(registry);
  if (registry.stage(kind.name)) registry.stages.delete(kind.name);
  registry.registerStage(kind);
  return registry;
}

/** Runs `kind` and returns the Artifact a downstream stage would receive. */
export async function runStage(kind: StageKind, run: DirectRun = {}): Promise<Artifact & { outcome: StageOutcome }> {
  const registry = run.registry ?? registryWith(kind);
  const params = paramsSchema(kind, registry).parse(run.params ?? {});
  const inputs = run.inputs ?? {};
  const seed = run.seed ?? 0;
  const hash = directHash(kind, params, inputs, seed);
  const store = new Store(tmp('attrib-stage-runs-'));
  mkdirSync(store.root, { recursive: true });
  const dir = run.dir ?? store.entry(hash);
  if (run.dir) {
    mkdirSync(run.dir, { recursive: true });
    symlinkSync(run.dir, store.entry(hash), 'dir');
  }
  for (const input of Object.values(inputs)) adopt(store, input);
  const record: StageRecord = {
    hash, kind: kind.name, version: kind.version, params, seed, plugins: [], backend: process.env.ATTRIB_TEST_BACKEND ?? 'wasm',
    inputs: Object.fromEntries(Object.entries(inputs).map(([name, a]) => [name, a.hash])),
  };
  store.writeStage(record);
  const hooks: TaskHooks = { log: run.log ?? (() => {}), progress: () => {} };
  const started = new Date();
  let outcome: StageOutcome = {};
  let units = 0;
  if (hasUnits(kind)) {
    units = (await performTask(registry, store, { step: 'count', hash }, hooks)).count!;
    store.writeStage({ ...record, units });
    for (let index = 0; index < units; index++) {
      if (!run.onlyUnits || run.onlyUnits.includes(index)) await performTask(registry, store, { step: 'unit', hash, index }, hooks);
    }
    if (!run.onlyUnits) outcome = (await performTask(registry, store, { step: 'combine', hash }, hooks)).outcome ?? {};
  } else {
    outcome = (await performTask(registry, store, { step: 'run', hash }, hooks)).outcome ?? {};
  }
  if (!run.onlyUnits) {
    const unitOutcomes: (UnitRecord | undefined)[] = Array.from({ length: units }, (_, i) => store.readUnit(hash, i));
    writeStageManifest(store, { ...record, units }, kind, { outcome, unitOutcomes, started, seconds: 0, wallSeconds: 0, attribVersion: 'test' });
  }
  const metrics: Metrics = outcome.metrics ?? {};
  return { kind: kind.output, stageKind: kind.name, hash, dir, params, metrics, units, inputs, outcome };
}
