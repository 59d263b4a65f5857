/**
 * One piece of a stage's work, performed from the store alone: stage.json says what to
 * run, upstream manifests give the Artifacts. The same code runs in a worker thread
 * (local executor), in-process (inline executor, `attrib unit`) or on another machine
 * that shares runs/ (SLURM, a queue): whatever ran it, a unit leaves either nothing or a
 * complete units/<i> with its unit.json.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeed } from './hash.ts';
import { hasUnits, type Artifact, type Registry, type StageContext, type StageHash, type StageKind, type StageOutcome } from './registry.ts';
import { Store, type StageRecord } from './store.ts';

export type Task =
  /** Ask the kind how many units it has (its inputs are finished). */
  | { step: 'count'; hash: StageHash }
  | { step: 'unit'; hash: StageHash; index: number }
  /** A single-step kind's run(). */
  | { step: 'run'; hash: StageHash }
  | { step: 'combine'; hash: StageHash };

export interface TaskResult {
  outcome?: StageOutcome;
  /** For `count`. */
  count?: number;
}

/** What a task may tell the person watching while it runs. */
export interface TaskHooks {
  log(message: string): void;
  progress(fraction: number): void;
}

export const silentHooks: TaskHooks = { log: () => {}, progress: () => {} };

/** Artifacts of a stage's inputs, built from upstream manifests (recursively). */
export function inputArtifacts(store: Store, inputs: Record<string, StageHash>, memo = new Map<StageHash, Artifact>()): Record<string, Artifact> {
  const artifact = (hash: StageHash): Artifact => {
    const known = memo.get(hash);
    if (known) return known;
    const check = store.readManifest(hash);
    if (!check.ok) throw new Error(`input ${hash.slice(0, 12)} is not finished (${check.missing ? 'no manifest' : check.problem})`);
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
      try {
        const outcome =
          (await kind.runUnit({
            ...base(staging),
            seed: deriveSeed(record.seed, task.hash, task.index),
            index: task.index,
            count,
            progress: (f) => hooks.progress(f),
          })) ?? {};
        writeFileSync(join(staging, 'unit.json'), JSON.stringify(outcome));
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
