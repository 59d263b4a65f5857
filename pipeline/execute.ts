/**
 * Step 5: execute. Runs the planned instances of one or more experiments (sweep points)
 * in topological order. Instances are deduplicated by hash, so variants that share an
 * upstream stage run it once. Every task goes through one p-limit of `--jobs` and then
 * to the Executor, so independent stages and the units of one stage run concurrently.
 *
 * Per instance: cached (valid manifest) -> done. Otherwise wait for its inputs (a failed
 * input blocks it), take the entry's cross-process lock (a second `attrib run` waits
 * here, then reuses the result), clean leftovers of killed runs, write stage.json, run
 * the missing units, combine (or run), and write the manifest last.
 */
import pLimit from 'p-limit';
import type { RunEvent } from './events.ts';
import { runsStages, type Executor, type StageRunner, type StageToRun } from './executor.ts';
import { whyChanged, type ExperimentPlan, type StageInstance } from './plan.ts';
import { pendingRun, runEntry, type InstanceResult } from './record.ts';
import { hasUnits, type StageHash, type StageOutcome } from './registry.ts';
import type { EntryLock, Manifest, RunRecord, StageRecord, Store } from './store.ts';
import { writeStageManifest, type Task, type TaskHooks } from './task.ts';

export interface ExecuteOptions {
  store: Store;
  executor: Executor;
  jobs: number;
  /** Stage names to re-run even when cached; everything downstream of them re-runs too. */
  force?: readonly string[];
  onEvent?: (event: RunEvent) => void;
  attribVersion: string;
}

export interface ExecuteResult {
  /** True when no stage failed or was blocked. */
  ok: boolean;
  results: Map<StageHash, InstanceResult>;
  runs: { plan: ExperimentPlan; run: RunRecord }[];
}

export async function execute(plans: ExperimentPlan[], opts: ExecuteOptions): Promise<ExecuteResult> {
  const { store, executor } = opts;
  const emit = opts.onEvent ?? (() => {});
  const limit = pLimit(Math.max(1, opts.jobs));
  const labels = instanceLabels(plans);
  const forced = forcedHashes(plans, opts.force ?? []);

  // Why each instance differs from the previous run, read before run.json is rewritten.
  const reasons = new Map<StageHash, string>();
  for (const plan of plans) {
    const previous = store.readRun(plan.experiment.name);
    for (const inst of plan.instances) {
      const why = whyChanged(store, previous, inst);
      if (why && !reasons.has(inst.hash)) reasons.set(inst.hash, why);
    }
  }

  const runs = plans.map((plan) => ({ plan, run: pendingRun(plan) }));
  for (const { plan, run } of runs) store.writeRun(plan.experiment.name, run);
  const record = (hash: StageHash, result: InstanceResult) => {
    for (const { plan, run } of runs) {
      const names = plan.instances.filter((i) => i.hash === hash).map((i) => i.name);
      if (names.length === 0) continue;
      for (const name of names) run[name] = runEntry(hash, result.status, result.seconds, result.metrics, result.error);
      store.writeRun(plan.experiment.name, run);
    }
  };

  const results = new Map<StageHash, InstanceResult>();
  // A stage runner (SLURM) takes every stage to compute up front, each entry locked and
  // with its stage.json; runInstance then only waits for it.
  const prepared = new Map<StageHash, EntryLock>();
  const early = new Map<StageHash, InstanceResult>();
  if (runsStages(executor)) await submitStages(executor);
  const pending = new Map<StageHash, Promise<InstanceResult>>();
  for (const plan of plans) {
    for (const inst of plan.instances) {
      if (pending.has(inst.hash)) continue;
      const upstream = Object.values(inst.inputs).map((h) => ({ hash: h, result: pending.get(h)! }));
      const job = (early.has(inst.hash) ? Promise.resolve(early.get(inst.hash)!) : runInstance(inst, upstream)).then((result) => {
        results.set(inst.hash, result);
        record(inst.hash, result);
        return result;
      });
      pending.set(inst.hash, job);
    }
  }
  await Promise.all(pending.values());

  async function runInstance(inst: StageInstance, upstream: { hash: StageHash; result: Promise<InstanceResult> }[]): Promise<InstanceResult> {
    const hash = inst.hash;
    const stage = labels.get(hash)!;
    const isForced = forced.has(hash);
    if (!isForced && !prepared.has(hash)) {
      const check = store.readManifest(hash);
      if (check.ok) return cachedResult(stage, hash, check.manifest);
    }
    for (const up of upstream) {
      const r = await up.result;
      if (r.status === 'failed' || r.status === 'blocked') {
        const by = labels.get(up.hash)!;
        emit({ type: 'blocked', stage, hash, by });
        // (A stage runner cancels the stage's own submitted work when its input fails.)
        await prepared.get(hash)?.release();
        return { hash, status: 'blocked', seconds: 0, metrics: {}, error: `blocked by ${by}` };
      }
    }

    const held = prepared.get(hash);
    if (held) return awaitStage(inst, stage, held);
    const claim = await claimEntry(inst, stage, isForced);
    if ('result' in claim) return claim.result;
    const { lock } = claim;
    const t0 = Date.now();
    try {
      store.cleanup(hash);
      store.writeStage(inst.record);
      const started = new Date();
      const { outcome, units, unitOutcomes, busySeconds } = await work(inst, stage);
      if (lock.compromised()) throw new Error(`lost the lock on store entry ${hash.slice(0, 12)}: ${lock.compromised()!.message}`);

      // `seconds` is compute: the summed run time of the stage's tasks (what the stage
      // costs, whatever else shared the workers); `wallSeconds` is elapsed time, which
      // also counts waiting for a free worker behind other stages.
      const { metrics } = writeStageManifest(store, { ...inst.record, units }, inst.spec.kind, {
        outcome,
        unitOutcomes,
        started,
        seconds: busySeconds,
        wallSeconds: (Date.now() - t0) / 1000,
        attribVersion: opts.attribVersion,
      });
      const seconds = busySeconds;
      emit({ type: 'finished', stage, hash, seconds, metrics });
      return { hash, status: 'ran', seconds, metrics };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      // A crashed thread cannot clean up after itself; with the lock still held, we can.
      if (!lock.compromised()) store.cleanup(hash);
      emit({ type: 'failed', stage, hash, error });
      return { hash, status: 'failed', seconds: (Date.now() - t0) / 1000, metrics: {}, error };
    } finally {
      await lock.release();
    }
  }

  function cachedResult(stage: string, hash: StageHash, manifest: Manifest): InstanceResult {
    emit({ type: 'cached', stage, hash });
    return { hash, status: 'cached', seconds: 0, metrics: manifest.metrics };
  }

  /**
   * Takes an entry's lock (waiting while another process holds it) and decides what is
   * left to do: a cached result, a failure to lock, or the lock for running the stage.
   */
  async function claimEntry(inst: StageInstance, stage: string, isForced: boolean): Promise<{ lock: EntryLock } | { result: InstanceResult }> {
    const hash = inst.hash;
    const cached = (manifest: Manifest) => ({ result: cachedResult(stage, hash, manifest) });
    let lock;
    try {
      lock = await store.lock(hash, {
        onWait: () => emit({ type: 'waiting', stage, hash }),
        done: () => !isForced && store.readManifest(hash).ok,
      });
    } catch (e) {
      const error = `cannot lock store entry ${hash.slice(0, 12)}: ${e instanceof Error ? e.message : String(e)}`;
      emit({ type: 'failed', stage, hash, error });
      return { result: { hash, status: 'failed', seconds: 0, metrics: {}, error } };
    }
    if (!lock) return cached((store.readManifest(hash) as { manifest: Manifest }).manifest);
    if (isForced) store.clear(hash);
    else {
      const check = store.readManifest(hash);
      if (check.ok) {
        await lock.release();
        return cached(check.manifest);
      }
      if (!check.missing) {
        emit({ type: 'warning', stage, hash, message: `store entry ${hash.slice(0, 12)}: ${check.problem}; re-running the stage` });
        store.removeManifest(hash);
      }
    }
    return { lock };
  }

  /** Locks every entry this run computes and hands them all to the stage runner, upstream first. */
  async function submitStages(runner: StageRunner): Promise<void> {
    const stages: StageToRun[] = [];
    for (const plan of plans) {
      for (const inst of plan.instances) {
        const hash = inst.hash;
        if (prepared.has(hash) || early.has(hash)) continue;
        const isForced = forced.has(hash);
        if (!isForced && store.readManifest(hash).ok) continue;
        const stage = labels.get(hash)!;
        const claim = await claimEntry(inst, stage, isForced);
        if ('result' in claim) {
          early.set(hash, claim.result);
          continue;
        }
        // A stage.json with the same content is kept: an earlier coordinator's jobs may
        // still be running the stage, and it holds their unit count. (A forced entry was
        // emptied by claimEntry, so it gets a new one.)
        if (!sameStage(store.readStage(hash), inst.record)) store.writeStage(inst.record);
        prepared.set(hash, claim.lock);
        stages.push({
          hash,
          label: stage,
          kind: inst.record.kind,
          hasUnits: hasUnits(inst.spec.kind),
          upstream: [...new Set(Object.values(inst.inputs))].filter((h) => prepared.has(h)),
          forced: isForced,
        });
      }
    }
    await runner.submitStages(stages, (hash, message) => emit({ type: 'log', stage: labels.get(hash)!, hash, message }));
  }

  /** A stage the runner has: wait for its manifest. */
  async function awaitStage(inst: StageInstance, stage: string, lock: EntryLock): Promise<InstanceResult> {
    const hash = inst.hash;
    const runner = executor as Executor & StageRunner;
    const t0 = Date.now();
    try {
      const manifest = await runner.awaitStage(hash, {
        log: (message) => emit({ type: 'log', stage, hash, message }),
        started: (units) => emit({ type: 'started', stage, hash, reason: reasonsFor(hash), ...(units ? { units } : {}) }),
        progress: (done, total) => emit({ type: 'progress', stage, hash, done, total }),
      });
      if (lock.compromised()) throw new Error(`lost the lock on store entry ${hash.slice(0, 12)}: ${lock.compromised()!.message}`);
      emit({ type: 'finished', stage, hash, seconds: manifest.seconds, metrics: manifest.metrics });
      return { hash, status: 'ran', seconds: manifest.seconds, metrics: manifest.metrics };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      emit({ type: 'failed', stage, hash, error });
      return { hash, status: 'failed', seconds: (Date.now() - t0) / 1000, metrics: {}, error };
    } finally {
      await lock.release();
    }
  }

  /** The stage's own work: units then combine, or run(). */
  async function work(
    inst: StageInstance,
    stage: string,
  ): Promise<{ outcome: StageOutcome; units: number; unitOutcomes: (StageOutcome | undefined)[]; busySeconds: number }> {
    const hash = inst.hash;
    let busy = 0;
    /** Times a task from when it gets a worker slot, not from when it was queued. */
    const timed = async <T>(task: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      try {
        return await task();
      } finally {
        busy += (Date.now() - t) / 1000;
      }
    };
    const hooks = (onProgress?: (f: number) => void): TaskHooks => ({
      log: (message) => emit({ type: 'log', stage, hash, message }),
      progress: (f) => onProgress?.(f),
    });
    const run = (task: Task, h: TaskHooks = hooks()) => limit(() => timed(() => executor.run(task, h)));
    const reason = reasonsFor(hash);

    if (!hasUnits(inst.spec.kind)) {
      emit({ type: 'started', stage, hash, reason });
      const { outcome } = await run({ step: 'run', hash });
      return { outcome: outcome ?? {}, units: 0, unitOutcomes: [], busySeconds: busy };
    }

    const { count = 0 } = await run({ step: 'count', hash });
    store.writeStage({ ...inst.record, units: count });
    const finished = new Set(store.finishedUnits(hash).filter((i) => i < count));
    emit({ type: 'started', stage, hash, reason, units: { done: finished.size, total: count } });

    const inFlight = new Map<number, number>();
    let done = finished.size;
    const report = () => {
      const partial = [...inFlight.values()].reduce((a, b) => a + b, 0);
      emit({ type: 'progress', stage, hash, done: done + partial, total: count });
    };
    let failure: string | undefined;
    const todo = Array.from({ length: count }, (_, i) => i).filter((i) => !finished.has(i));
    await Promise.all(
      todo.map((index) =>
        limit(async () => {
          if (failure) return; // the stage has failed: start no more of its units
          inFlight.set(index, 0);
          try {
            await timed(() => executor.run({ step: 'unit', hash, index }, hooks((f) => (inFlight.set(index, Math.min(1, Math.max(0, f))), report()))));
            done++;
          } catch (e) {
            failure ??= `unit ${index} failed: ${e instanceof Error ? e.message : String(e)}`;
          } finally {
            inFlight.delete(index);
            report();
          }
        }),
      ),
    );
    if (failure) throw new Error(failure);
    const unitOutcomes = Array.from({ length: count }, (_, i) => store.readUnit(hash, i));
    const { outcome } = await run({ step: 'combine', hash });
    return { outcome: outcome ?? {}, units: count, unitOutcomes, busySeconds: busy };
  }

  function reasonsFor(hash: StageHash): string | undefined {
    if (forced.has(hash)) return 'forced';
    return reasons.get(hash);
  }

  const ok = [...results.values()].every((r) => r.status === 'ran' || r.status === 'cached');
  return { ok, results, runs };
}

/** Stage names as shown to people; the sweep point is added where a name means several instances. */
export function instanceLabels(plans: ExperimentPlan[]): Map<StageHash, string> {
  const hashesOfName = new Map<string, Set<StageHash>>();
  for (const plan of plans) for (const i of plan.instances) hashesOfName.set(i.name, (hashesOfName.get(i.name) ?? new Set()).add(i.hash));
  const labels = new Map<StageHash, string>();
  for (const plan of plans) {
    const suffix = plan.experiment.name.includes('@') ? plan.experiment.name.slice(plan.experiment.name.indexOf('@')) : '';
    for (const i of plan.instances) {
      if (labels.has(i.hash)) continue;
      labels.set(i.hash, hashesOfName.get(i.name)!.size > 1 ? `${i.name}${suffix}` : i.name);
    }
  }
  return labels;
}

/** Hashes of the forced stages and of everything downstream of them. */
function forcedHashes(plans: ExperimentPlan[], names: readonly string[]): Set<StageHash> {
  const forced = new Set<StageHash>();
  for (const plan of plans) {
    for (const inst of plan.instances) {
      if (names.includes(inst.name) || Object.values(inst.inputs).some((h) => forced.has(h))) forced.add(inst.hash);
    }
  }
  return forced;
}

/** Whether a stage.json on disk describes the planned record (its unit count aside). */
function sameStage(onDisk: StageRecord | undefined, planned: StageRecord): boolean {
  if (!onDisk) return false;
  const { units: _, ...rest } = onDisk;
  return JSON.stringify(rest) === JSON.stringify(planned);
}
