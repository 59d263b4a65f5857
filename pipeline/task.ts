/**
 * One piece of a stage's work, performed from the store alone: stage.json says what to
 * run, upstream manifests give the Artifacts. The same code runs in a worker thread
 * (local executor), in-process (inline executor, `attrib unit`) or on another machine
 * that shares runs/ (SLURM, a queue): whatever ran it, a unit leaves either nothing or a
 * complete units/<i> with its unit.json.
 */
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeed } from './hash.ts';
import { round } from './record.ts';
import { hasUnits, type Artifact, type Metrics, type Registry, type StageContext, type StageHash, type StageKind, type StageOutcome } from './registry.ts';
import { Store, type Manifest, type StageRecord } from './store.ts';

export type Task =
  /** Ask the kind how many units it has (its inputs are finished). */
  | { step: 'count'; hash: StageHash }
  | { step: 'unit'; hash: StageHash; index: number }
  /** A single-step kind's run(). */
  | { step: 'run'; hash: StageHash }
  | { step: 'combine'; hash: StageHash };

/** units/<i>/unit.json: the unit's outcome and the seconds it took. */
export interface UnitRecord extends StageOutcome {
  seconds?: number;
}

export interface TaskResult {
  outcome?: StageOutcome;
  /** For `count`. */
  count?: number;
}

/** What a task may tell the person watching while it runs. */
export interface TaskHooks {
  /**
   * A line for the person watching. `from: 'executor'` marks the executor's own notes
   * (queues, job arrays, missing workers): the reporter always shows those on a line of
   * their own, while a unit's lines may be folded into its stage's progress line.
   */
  log(message: string, from?: 'executor'): void;
  progress(fraction: number): void;
}

export const silentHooks: TaskHooks = { log: () => {}, progress: () => {} };

/** Artifacts of a stage's inputs, built from upstream manifests (recursively). */
export function inputArtifacts(store: Store, inputs: Record<string, StageHash>, memo = new Map<StageHash, Artifact>()): Record<string, Artifact> {
  const artifact = (hash: StageHash): Artifact => {
    const known = memo.get(hash);
    if (known) return known;
    const check = store.readManifest(hash);
    // Verified (sha256 of every file, the manifest's digest, its own inputs) before use.
    if (!check.ok) throw new Error(check.missing ? `input ${hash.slice(0, 12)} is not finished (no manifest)` : `input ${hash.slice(0, 12)} is not valid: ${check.problem}; \`attrib run\` computes it again`);
    const m = check.manifest;
    const made: Artifact = {
      kind: m.output,
      stageKind: m.kind,
      hash,
      dir: store.entry(hash),
      params: m.params,
      metrics: m.metrics,
      units: m.units,
      inputs: Object.fromEntries(Object.entries(m.inputs).map(([name, h]) => [name, artifact(h)])),
    };
    memo.set(hash, made);
    return made;
  };
  return Object.fromEntries(Object.entries(inputs).map(([name, h]) => [name, artifact(h)]));
}

function kindFor(registry: Registry, record: StageRecord): StageKind {
  const kind = registry.stage(record.kind);
  if (!kind) throw new Error(`stage kind "${record.kind}" is not registered here (plugins: ${record.plugins.join(', ') || 'none'})`);
  if (kind.version !== record.version) {
    throw new Error(`stage kind "${record.kind}" is version ${kind.version} here but the entry was planned with ${record.version}`);
  }
  return kind;
}

export async function performTask(registry: Registry, store: Store, task: Task, hooks: TaskHooks = silentHooks): Promise<TaskResult> {
  const record = store.readStage(task.hash);
  if (!record) throw new Error(`store entry ${task.hash.slice(0, 12)} has no stage.json`);
  const kind = kindFor(registry, record);
  const base = (outDir: string): StageContext => ({
    params: record.params,
    inputs: inputArtifacts(store, record.inputs),
    hash: task.hash,
    seed: deriveSeed(record.seed, task.hash),
    backend: record.backend,
    dir: store.entry(task.hash),
    outDir,
    log: (message) => hooks.log(message),
    registry,
  });

  switch (task.step) {
    case 'count': {
      if (!hasUnits(kind)) return { count: 0 };
      const staging = store.staging(task.hash, 'count');
      try {
        const count = await kind.units(base(staging));
        if (!Number.isInteger(count) || count < 0) throw new Error(`units() returned ${count}, expected a non-negative integer`);
        return { count };
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
    }
    case 'unit': {
      if (!hasUnits(kind)) throw new Error(`stage kind "${kind.name}" has no units`);
      const done = store.readUnit(task.hash, task.index);
      if (done) return { outcome: done }; // resumed: this unit finished earlier
      const count = record.units ?? (await performTask(registry, store, { step: 'count', hash: task.hash })).count!;
      if (task.index < 0 || task.index >= count) throw new Error(`unit ${task.index} out of range (the stage has ${count} units)`);
      const staging = store.staging(task.hash, `unit-${task.index}`);
      const started = performance.now();
      try {
        const outcome =
          (await kind.runUnit({
            ...base(staging),
            seed: deriveSeed(record.seed, task.hash, task.index),
            index: task.index,
            count,
            progress: (f) => hooks.progress(f),
          })) ?? {};
        // The unit's compute time goes beside its outcome: whoever writes the manifest
        // (possibly on another machine) sums these into metrics.seconds.
        const seconds = round((performance.now() - started) / 1000);
        writeFileSync(join(staging, 'unit.json'), JSON.stringify({ ...outcome, seconds } satisfies UnitRecord));
        store.commitUnit(task.hash, task.index, staging);
        return { outcome };
      } catch (e) {
        rmSync(staging, { recursive: true, force: true });
        throw e;
      }
    }
    case 'run':
    case 'combine': {
      const staging = store.staging(task.hash, task.step);
      try {
        let outcome: StageOutcome | void;
        if (task.step === 'run') {
          if (hasUnits(kind)) throw new Error(`stage kind "${kind.name}" has units, not run()`);
          outcome = await kind.run(base(staging));
        } else {
          if (!hasUnits(kind)) throw new Error(`stage kind "${kind.name}" has no combine()`);
          const count = record.units ?? 0;
          const unitOutcomes = Array.from({ length: count }, (_, i) => store.readUnit(task.hash, i));
          const missing = unitOutcomes.findIndex((o) => o === undefined);
          if (missing >= 0) throw new Error(`unit ${missing} has not finished`);
          outcome = await kind.combine({
            ...base(staging),
            count,
            unitDir: (i) => store.unitDir(task.hash, i),
            unitOutcomes: unitOutcomes as StageOutcome[],
          });
        }
        store.commitStaged(task.hash, staging);
        return { outcome: outcome ?? {} };
      } catch (e) {
        rmSync(staging, { recursive: true, force: true });
        throw e;
      }
    }
  }
}

/** What a finished stage's manifest records besides its stage.json. */
export interface StageFinish {
  outcome: StageOutcome;
  unitOutcomes: (UnitRecord | undefined)[];
  started: Date;
  /** Compute: the summed run time of the stage's tasks. */
  seconds: number;
  /** Elapsed since the stage started (also counts waiting for workers or a queue). */
  wallSeconds: number;
  attribVersion: string;
}

/** Writes an entry's manifest, the file that makes it finished (so: written last). */
export function writeStageManifest(store: Store, record: StageRecord, kind: StageKind, f: StageFinish): Manifest {
  const units = record.units ?? 0;
  const metrics: Metrics = { ...f.outcome.metrics, seconds: round(f.seconds), wallSeconds: round(f.wallSeconds), ...(hasUnits(kind) ? { units } : {}) };
  const info = Object.assign({}, ...f.unitOutcomes.map((o) => o?.info ?? {}), f.outcome.info ?? {}) as Record<string, unknown>;
  const files = store.listFiles(record.hash);
  const manifest: Manifest = {
    kind: record.kind,
    version: record.version,
    hash: record.hash,
    output: kind.output,
    params: record.params,
    inputs: record.inputs,
    seed: record.seed,
    backend: record.backend,
    units,
    started: f.started.toISOString(),
    finished: new Date().toISOString(),
    seconds: round(f.seconds),
    metrics,
    info,
    files,
    digests: store.digestFiles(record.hash, files),
    inputDigests: store.inputContent(record.inputs),
    attrib: f.attribVersion,
    node: process.version,
  };
  store.writeManifest(manifest);
  return manifest;
}

/**
 * Counts a stage's units and records the count in its stage.json (what `combine` and a
 * manifest read). For executors that count outside the scheduler (a SLURM job).
 */
export async function countUnits(registry: Registry, store: Store, hash: StageHash, hooks: TaskHooks = silentHooks): Promise<number> {
  const record = store.readStage(hash);
  if (!record) throw new Error(`store entry ${hash.slice(0, 12)} has no stage.json`);
  const { count = 0 } = await performTask(registry, store, { step: 'count', hash }, hooks);
  store.writeStage({ ...record, units: count });
  return count;
}

/**
 * The last step of a stage outside the scheduler (a SLURM job): run() or combine(), then
 * the manifest, with metrics.seconds summed from the units' own seconds. The stage
 * "started" when its stage.json was last written (planned, or counted).
 */
export async function finishStage(registry: Registry, store: Store, hash: StageHash, attribVersion: string, hooks: TaskHooks = silentHooks): Promise<Manifest> {
  const record = store.readStage(hash);
  if (!record) throw new Error(`store entry ${hash.slice(0, 12)} has no stage.json`);
  const kind = kindFor(registry, record);
  const t0 = performance.now();
  const { outcome = {} } = await performTask(registry, store, { step: hasUnits(kind) ? 'combine' : 'run', hash }, hooks);
  const unitOutcomes: (UnitRecord | undefined)[] = Array.from({ length: record.units ?? 0 }, (_, i) => store.readUnit(hash, i));
  const unitSeconds = unitOutcomes.reduce((sum, o) => sum + (o?.seconds ?? 0), 0);
  const started = statSync(join(store.entry(hash), 'stage.json')).mtime;
  return writeStageManifest(store, record, kind, {
    outcome,
    unitOutcomes,
    started,
    seconds: unitSeconds + (performance.now() - t0) / 1000,
    wallSeconds: (Date.now() - started.getTime()) / 1000,
    attribVersion,
  });
}
