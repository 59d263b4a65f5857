/**
 * Step 4: plan. Hashes every stage instance of an experiment (upstream first, so each
 * hash covers its inputs' hashes), looks each up in the store, and, DVC-style, says why
 * a stage is stale compared with the experiment's previous run.json.
 */
import { canonicalJson, stageHash } from './hash.ts';
import type { StageHash } from './registry.ts';
import type { Manifest, RunRecord, StageRecord, Store } from './store.ts';
import type { Experiment, StageSpec } from './validate.ts';

export interface StageInstance {
  /** Stage name in this experiment (not part of the hash). */
  name: string;
  spec: StageSpec;
  hash: StageHash;
  /** Input name -> upstream hash. */
  inputs: Record<string, StageHash>;
  /** Input name -> upstream stage name. */
  upstream: Record<string, string>;
  /** What stage.json will hold. */
  record: StageRecord;
}

export interface ExperimentPlan {
  experiment: Experiment;
  /** Topological order. */
  instances: StageInstance[];
}

export function planExperiment(experiment: Experiment): ExperimentPlan {
  const hashes = new Map<string, StageHash>();
  const instances = experiment.stages.map((spec): StageInstance => {
    const inputs = Object.fromEntries(Object.entries(spec.inputs).map(([input, up]) => [input, hashes.get(up)!]));
    const hash = stageHash({ kind: spec.kind.name, version: spec.kind.version, params: spec.params, inputs, seed: spec.seed, content: spec.content });
    hashes.set(spec.name, hash);
    return {
      name: spec.name,
      spec,
      hash,
      inputs,
      upstream: { ...spec.inputs },
      record: {
        hash,
        kind: spec.kind.name,
        version: spec.kind.version,
        params: spec.params,
        inputs,
        seed: spec.seed,
        backend: experiment.backend,
        plugins: experiment.plugins,
      },
    };
  });
  return { experiment, instances };
}

/**
 * The part of a plan a partial run needs, as `dvc repro TARGET` does: the `targets` and
 * everything upstream of them (all stages when there are none), minus what is
 * downstream of an `until` stage (the `until` stage itself stays). Topological order is kept.
 */
export function selectStages(plan: ExperimentPlan, targets: readonly string[], until: readonly string[]): ExperimentPlan {
  const byName = new Map(plan.instances.map((i) => [i.name, i]));
  let wanted = new Set(plan.instances.map((i) => i.name));
  if (targets.length) {
    wanted = new Set();
    const visit = (name: string) => {
      if (wanted.has(name)) return;
      wanted.add(name);
      for (const up of Object.values(byName.get(name)!.upstream)) visit(up);
    };
    targets.forEach(visit);
  }
  const beyond = new Set<string>();
  for (const inst of plan.instances) {
    if (Object.values(inst.upstream).some((up) => until.includes(up) || beyond.has(up))) beyond.add(inst.name);
  }
  return { ...plan, instances: plan.instances.filter((i) => wanted.has(i.name) && !beyond.has(i.name)) };
}

export type EntryState =
  | { state: 'cached'; manifest: Manifest }
  | { state: 'partial'; done: number; total?: number }
  | { state: 'missing' }
  | { state: 'corrupt'; problem: string; done: number; total?: number }
  /** Intact, but an input's content changed since it was computed: it re-runs. */
  | { state: 'stale'; problem: string; done: number; total?: number };

export function entryState(store: Store, hash: StageHash): EntryState {
  const check = store.readManifest(hash);
  if (check.ok) return { state: 'cached', manifest: check.manifest };
  const done = store.finishedUnits(hash).length;
  const total = store.readStage(hash)?.units;
  if (!check.missing) return { state: check.stale ? 'stale' : 'corrupt', problem: check.problem, done, total };
  return done > 0 ? { state: 'partial', done, total } : { state: 'missing' };
}

export function describeState(s: EntryState): string {
  switch (s.state) {
    case 'cached':
      return 'cached';
    case 'missing':
      return 'missing';
    case 'partial':
      return `partial (${s.done}${s.total !== undefined ? ` of ${s.total}` : ''} units)`;
    case 'corrupt':
      return `corrupt: ${s.problem}`;
    case 'stale':
      return s.problem;
  }
}

/**
 * Why an instance is not the one the previous run of this experiment used: which kind
 * version, seed, params or inputs changed. Undefined when it is the same instance.
 */
export function whyChanged(store: Store, previous: RunRecord | undefined, inst: StageInstance): string | undefined {
  const before = previous?.[inst.name];
  if (!before) return previous ? 'new stage' : undefined;
  if (before.hash === inst.hash) return undefined;
  const old = store.readStage(before.hash);
  if (!old) return `changed since the last run (its entry ${before.hash.slice(0, 8)} is no longer in the store)`;
  const reasons: string[] = [];
  if (old.kind !== inst.record.kind) reasons.push(`kind ${old.kind} -> ${inst.record.kind}`);
  else if (old.version !== inst.record.version) reasons.push(`kind ${old.kind} version ${old.version} -> ${inst.record.version}`);
  if (old.seed !== inst.record.seed) reasons.push(`seed ${old.seed} -> ${inst.record.seed}`);
  const diffs = diff(old.params, inst.record.params, 'params');
  reasons.push(...diffs.slice(0, 4));
  if (diffs.length > 4) reasons.push(`and ${diffs.length - 4} more param changes`);
  for (const input of new Set([...Object.keys(old.inputs), ...Object.keys(inst.inputs)])) {
    if (old.inputs[input] === inst.inputs[input]) continue;
    const up = inst.upstream[input];
    if (!(input in inst.inputs)) reasons.push(`input ${input} removed`);
    else if (!(input in old.inputs)) reasons.push(`input ${input} added`);
    else reasons.push(`input ${input} changed (upstream stage ${up} changed)`);
  }
  return reasons.length ? reasons.join('; ') : 'changed since the last run';
}

/** Paths where two JSON values differ, as "path: old -> new". */
function diff(a: unknown, b: unknown, path: string): string[] {
  return jsonDiffs(a, b, path).map((d) => `${d.path}: ${short(d.a)} -> ${short(d.b)}`);
}

/** Where two JSON values differ: the paths (into objects, sorted by key) and both values there. */
export function jsonDiffs(a: unknown, b: unknown, path: string): { path: string; a: unknown; b: unknown }[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().flatMap((k) => jsonDiffs(a[k], b[k], `${path}.${k}`));
  }
  if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) return [];
  return [{ path, a, b }];
}

/** A JSON value in a few characters, "(unset)" for none. */
export function short(v: unknown): string {
  if (v === undefined) return '(unset)';
  const text = JSON.stringify(v);
  return text.length > 30 ? `${text.slice(0, 27)}...` : text;
}
