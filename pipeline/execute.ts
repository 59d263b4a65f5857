/**
 * Step 5: execute. Runs the planned instances of one or more experiments (sweep points)
 * in topological order. Instances are deduplicated by hash, so variants that share an
 * upstream stage run it once. Every task goes through one set of `--jobs` slots and then
 * to the Executor, so independent stages and the units of one stage run concurrently;
 * the slots go to the longest chain of stages first (schedule.ts).
 *
 * An instance's life cycle, one named step each below:
 *   inputs    wait for them; a failed input blocks it (unless the entry is cached).
 *   cached?   a valid manifest (files and inputs verified, store.ts): done.
 *   claim     take the entry's cross-process lock (a second `attrib run` waits here, then
 *             reuses the result) and decide what is left: cached, a lock failure, or run.
 *   prepare   clean leftovers of killed runs, write stage.json.
 *   units     count, run the missing units, combine (or run() for a single-step kind).
 *   finish    write the manifest last.
 * A stage runner (SLURM) is handed every claimed and prepared entry up front instead
 * (submitStages), and each instance then only awaits its manifest.
 *
 * The steps are functions over one `Execution`: what the call shares, with its two maps
 * of per-entry state written only by submitStages.
 */
import type { RunEvent } from './events.ts';
import { runsStages, type Executor, type StageRunner, type StageToRun } from './executor.ts';
import { whyChanged, type ExperimentPlan, type StageInstance } from './plan.ts';
import { chainLengths, PrioritySlots, taskPriority, type Release } from './schedule.ts';
import { pendingRun, runEntry, type InstanceResult } from './record.ts';
import { hasUnits, type StageHash, type StageOutcome, type UnitKind } from './registry.ts';
import type { EntryLock, Manifest, RunRecord, StageRecord, Store } from './store.ts';
import { writeStageManifest, type Task, type TaskHooks, type TaskResult, type UnitRecord } from './task.ts';

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

/** What every step of one execute() call shares. */
interface Execution {
  plans: ExperimentPlan[];
  store: Store;
  executor: Executor;
  emit: (event: RunEvent) => void;
  /** The one limit of `--jobs` tasks in flight, across stages, longest chain first. */
  slots: PrioritySlots;
  /** Per instance, the stages on its longest path to a result (itself counted): its priority. */
  chains: Map<StageHash, number>;
  /** An instance between two of its tasks holds back lower priorities (schedule.ts). */
  gaps: Map<StageHash, Release>;
  attribVersion: string;
  /** Stage names as people see them. */
  labels: Map<StageHash, string>;
  /** Forced instances and everything downstream of them. */
  forced: Set<StageHash>;
  /** Why each instance differs from the previous run, read before run.json is rewritten. */
  reasons: Map<StageHash, string>;
  /** Entries handed to a stage runner, each locked (and with its stage.json) until its manifest appears. */
  submitted: Map<StageHash, EntryLock>;
  /** Results settled while submitting (cached under the lock, or the lock failed). */
  settled: Map<StageHash, InstanceResult>;
}

type Upstream = { hash: StageHash; result: Promise<InstanceResult> }[];

export async function execute(plans: ExperimentPlan[], opts: ExecuteOptions): Promise<ExecuteResult> {
  const ex: Execution = {
    plans,
    store: opts.store,
    executor: opts.executor,
    emit: opts.onEvent ?? (() => {}),
    slots: new PrioritySlots(Math.max(1, opts.jobs)),
    chains: chainLengths(plans),
    gaps: new Map(),
    attribVersion: opts.attribVersion,
    labels: instanceLabels(plans),
    forced: forcedHashes(plans, opts.force ?? []),
    reasons: changeReasons(opts.store, plans),
    submitted: new Map(),
    settled: new Map(),
  };
  const runs = writePendingRuns(ex.store, plans);
  if (runsStages(ex.executor)) await submitStages(ex, ex.executor);

  const results = new Map<StageHash, InstanceResult>();
  const pending = new Map<StageHash, Promise<InstanceResult>>();
  for (const plan of plans) {
    for (const inst of plan.instances) {
      if (pending.has(inst.hash)) continue;
      const upstream = Object.values(inst.inputs).map((h) => ({ hash: h, result: pending.get(h)! }));
      const settled = ex.settled.get(inst.hash);
      const job = (settled ? Promise.resolve(settled) : runInstance(ex, inst, upstream)).then((result) => {
        results.set(inst.hash, result);
        recordResult(ex.store, runs, inst.hash, result);
        return result;
      });
      pending.set(inst.hash, job);
    }
  }
  await Promise.all(pending.values());

  const ok = [...results.values()].every((r) => r.status === 'ran' || r.status === 'cached');
  return { ok, results, runs };
}

/** One instance from start to end: cached, blocked, awaited from a stage runner, or computed here. */
async function runInstance(ex: Execution, inst: StageInstance, upstream: Upstream): Promise<InstanceResult> {
  const { hash } = inst;
  const isForced = ex.forced.has(hash);
  // The inputs settle first: an entry is cached only if the inputs it was computed from
  // still hold the same content (an upstream re-run this time may have changed them).
  const blocker = await failedInput(upstream);
  if (!isForced && !ex.submitted.has(hash)) {
    const check = ex.store.readManifest(hash);
    if (check.ok) return cachedResult(ex, hash, check.manifest);
  }
  if (blocker) {
    const by = ex.labels.get(blocker)!;
    ex.emit({ type: 'blocked', stage: ex.labels.get(hash)!, hash, by });
    // (A stage runner cancels the stage's own submitted work when its input fails.)
    await ex.submitted.get(hash)?.release();
    return { hash, status: 'blocked', seconds: 0, metrics: {}, error: `blocked by ${by}` };
  }

  const held = ex.submitted.get(hash);
  if (held) return awaitSubmitted(ex, inst, held);
  // Ready: until its first task is queued, lower priorities wait (and again between its tasks).
  holdGap(ex, hash);
  try {
    const claim = await claimEntry(ex, inst, isForced);
    if ('result' in claim) return claim.result;
    return await computeEntry(ex, inst, claim.lock);
  } finally {
    endGap(ex, hash);
  }
}

/** The instance is between two of its tasks: tasks of lower priority do not take a free slot meanwhile. */
function holdGap(ex: Execution, hash: StageHash): void {
  ex.gaps.get(hash)?.();
  // At the level of a stage-ending step: units of the same chain length wait too (its tie rule).
  ex.gaps.set(hash, ex.slots.hold(taskPriority(ex.chains.get(hash) ?? 1, 'run')));
}

function endGap(ex: Execution, hash: StageHash): void {
  ex.gaps.get(hash)?.();
  ex.gaps.delete(hash);
}

/** The first input (in input order) that failed or was blocked, once the inputs have settled that far. */
async function failedInput(upstream: Upstream): Promise<StageHash | undefined> {
  for (const up of upstream) {
    const r = await up.result;
    if (r.status === 'failed' || r.status === 'blocked') return up.hash;
  }
  return undefined;
}

/**
 * Claim: takes an entry's lock (waiting while another process holds it) and decides what
 * is left to do: a cached result, a failure to lock, or the lock for running the stage.
 */
async function claimEntry(ex: Execution, inst: StageInstance, isForced: boolean): Promise<{ lock: EntryLock } | { result: InstanceResult }> {
  const { store } = ex;
  const { hash } = inst;
  let lock;
  try {
    lock = await store.lock(hash, {
      onWait: () => {
        endGap(ex, hash); // another process has it: do not keep slots idle meanwhile
        ex.emit({ type: 'waiting', stage: ex.labels.get(hash)!, hash });
      },
      done: () => !isForced && store.readManifest(hash).ok,
    });
  } catch (e) {
    return { result: failedResult(ex, hash, `cannot lock store entry ${hash.slice(0, 12)}: ${message(e)}`, 0) };
  }
  if (!lock) return { result: cachedResult(ex, hash, (store.readManifest(hash) as { manifest: Manifest }).manifest) };
  if (isForced) store.clear(hash);
  else {
    const check = store.readManifest(hash);
    if (check.ok) {
      await lock.release();
      return { result: cachedResult(ex, hash, check.manifest) };
    }
    if (!check.missing) {
      const damaged = store.removeDamagedUnits(hash);
      const units = damaged.length ? ` (and its damaged unit${damaged.length > 1 ? 's' : ''} ${damaged.join(', ')})` : '';
      ex.emit({ type: 'warning', stage: ex.labels.get(hash)!, hash, message: `store entry ${hash.slice(0, 12)}: ${check.problem}; re-running the stage${units}` });
      store.removeManifest(hash);
    }
  }
  return { lock };
}

/** prepare → units → finish, under the entry's lock; a failure leaves the entry clean. */
async function computeEntry(ex: Execution, inst: StageInstance, lock: EntryLock): Promise<InstanceResult> {
  const { hash } = inst;
  const t0 = Date.now();
  try {
    prepareEntry(ex, inst);
    const started = new Date();
    const work = await computeOutputs(ex, inst);
    assertLockHeld(lock, hash);
    return finishEntry(ex, inst, work, started, t0);
  } catch (e) {
    // A crashed thread cannot clean up after itself; with the lock still held, we can.
    if (!lock.compromised()) ex.store.cleanup(hash);
    return failedResult(ex, hash, message(e), (Date.now() - t0) / 1000);
  } finally {
    await lock.release();
  }
}

/** Prepare: clears what a killed run left (staging folders, a stale manifest) and writes stage.json. */
function prepareEntry(ex: Execution, inst: StageInstance): void {
  ex.store.cleanup(inst.hash);
  ex.store.writeStage(inst.record);
}

/** What a stage's tasks produced, for its manifest. */
interface StageWork {
  outcome: StageOutcome;
  units: number;
  unitOutcomes: (UnitRecord | undefined)[];
  /** Compute: the summed run time of the stage's tasks. */
  busySeconds: number;
}

/** Units: the stage's own work, units then combine (counted first), or run(). */
async function computeOutputs(ex: Execution, inst: StageInstance): Promise<StageWork> {
  const { store } = ex;
  const { hash } = inst;
  const stage = ex.labels.get(hash)!;
  const tasks = new StageTasks(ex, hash);
  const reason = reasonFor(ex, hash);

  if (!hasUnits(inst.spec.kind)) {
    ex.emit({ type: 'started', stage, hash, reason });
    const { outcome } = await tasks.queue({ step: 'run', hash });
    return { outcome: outcome ?? {}, units: 0, unitOutcomes: [], busySeconds: tasks.busySeconds };
  }

  const { count = 0 } = await tasks.queue({ step: 'count', hash });
  store.writeStage({ ...inst.record, units: count });
  const finished = new Set(store.finishedUnits(hash).filter((i) => i < count));
  ex.emit({ type: 'started', stage, hash, reason, units: { done: finished.size, total: count } });
  await runUnits(ex, tasks, hash, count, finished);
  const unitOutcomes = Array.from({ length: count }, (_, i) => store.readUnit(hash, i));
  const { outcome } = await tasks.queue({ step: 'combine', hash });
  if ((inst.spec.kind as UnitKind).scratchUnits) store.removeUnits(hash);
  return { outcome: outcome ?? {}, units: count, unitOutcomes, busySeconds: tasks.busySeconds };
}

/** Runs the units not yet finished; after the first failure starts no more, then throws it. */
async function runUnits(ex: Execution, tasks: StageTasks, hash: StageHash, count: number, finished: Set<number>): Promise<void> {
  const stage = ex.labels.get(hash)!;
  // Progress counts in-flight units by the fraction they report.
  const inFlight = new Map<number, number>();
  let done = finished.size;
  const report = () => {
    const partial = [...inFlight.values()].reduce((a, b) => a + b, 0);
    ex.emit({ type: 'progress', stage, hash, done: done + partial, total: count });
  };
  let failure: string | undefined;
  const todo = Array.from({ length: count }, (_, i) => i).filter((i) => !finished.has(i));
  await Promise.all(
    todo.map((index) =>
      tasks.slot('unit', async () => {
        if (failure) return; // the stage has failed: start no more of its units
        inFlight.set(index, 0);
        try {
          await tasks.perform({ step: 'unit', hash, index }, (f) => (inFlight.set(index, Math.min(1, Math.max(0, f))), report()));
          done++;
        } catch (e) {
          failure ??= `unit ${index} failed: ${message(e)}`;
        } finally {
          inFlight.delete(index);
          report();
        }
      }),
    ),
  );
  if (failure) throw new Error(failure);
}

/** Finish: the manifest, written last (it is what makes the entry finished). */
function finishEntry(ex: Execution, inst: StageInstance, work: StageWork, started: Date, t0: number): InstanceResult {
  const { hash } = inst;
  // `seconds` is compute: the summed run time of the stage's tasks (what the stage
  // costs, whatever else shared the workers); `wallSeconds` is elapsed time, which
  // also counts waiting for a free worker behind other stages.
  const { metrics } = writeStageManifest(ex.store, { ...inst.record, units: work.units }, inst.spec.kind, {
    outcome: work.outcome,
    unitOutcomes: work.unitOutcomes,
    started,
    seconds: work.busySeconds,
    wallSeconds: (Date.now() - t0) / 1000,
    attribVersion: ex.attribVersion,
  });
  const seconds = work.busySeconds;
  ex.emit({ type: 'finished', stage: ex.labels.get(hash)!, hash, seconds, metrics });
  return { hash, status: 'ran', seconds, metrics };
}

/** Hands one stage's tasks to the executor and sums their run time. */
class StageTasks {
  /** Each task timed from when it gets a worker slot, not from when it was queued. */
  busySeconds = 0;

  constructor(
    private readonly ex: Execution,
    private readonly hash: StageHash,
  ) {}

  /** Waits for a slot under the shared limit, then runs the task; the stage is then between tasks until it queues the next. */
  queue(task: Task): Promise<TaskResult> {
    return this.slot(task.step, async () => {
      try {
        return await this.perform(task);
      } finally {
        holdGap(this.ex, this.hash);
      }
    });
  }

  /** Queues `fn` for a slot at this stage's priority for `step`; the stage is no longer between tasks. */
  slot<T>(step: Task['step'], fn: () => Promise<T>): Promise<T> {
    const { ex, hash } = this;
    const queued = ex.slots.run(taskPriority(ex.chains.get(hash) ?? 1, step), fn);
    endGap(ex, hash);
    return queued;
  }

  /** Runs the task now (the caller holds a slot). */
  async perform(task: Task, onProgress?: (fraction: number) => void): Promise<TaskResult> {
    const { ex, hash } = this;
    const hooks: TaskHooks = {
      log: (message, from) => ex.emit({ type: 'log', stage: ex.labels.get(hash)!, hash, message, ...(from === 'executor' ? { fromExecutor: true } : {}) }),
      progress: (f) => onProgress?.(f),
    };
    const t = Date.now();
    try {
      return await ex.executor.run(task, hooks);
    } finally {
      this.busySeconds += (Date.now() - t) / 1000;
    }
  }
}

/** Claims and prepares every entry this run computes and hands them all to the stage runner, upstream first. */
async function submitStages(ex: Execution, runner: StageRunner): Promise<void> {
  const { store } = ex;
  const stages: StageToRun[] = [];
  for (const plan of ex.plans) {
    for (const inst of plan.instances) {
      const { hash } = inst;
      if (ex.submitted.has(hash) || ex.settled.has(hash)) continue;
      const isForced = ex.forced.has(hash);
      if (!isForced && store.readManifest(hash).ok) continue;
      const claim = await claimEntry(ex, inst, isForced);
      if ('result' in claim) {
        ex.settled.set(hash, claim.result);
        continue;
      }
      // A stage.json with the same content is kept: an earlier coordinator's jobs may
      // still be running the stage, and it holds their unit count. (A forced entry was
      // emptied by claimEntry, so it gets a new one.)
      if (!sameStage(store.readStage(hash), inst.record)) store.writeStage(inst.record);
      ex.submitted.set(hash, claim.lock);
      stages.push({
        hash,
        label: ex.labels.get(hash)!,
        kind: inst.record.kind,
        hasUnits: hasUnits(inst.spec.kind),
        upstream: [...new Set(Object.values(inst.inputs))].filter((h) => ex.submitted.has(h)),
        forced: isForced,
      });
    }
  }
  await runner.submitStages(stages, (hash, message) => ex.emit({ type: 'log', stage: ex.labels.get(hash)!, hash, message, fromExecutor: true }));
}

/** A stage the runner has: wait for its manifest. */
async function awaitSubmitted(ex: Execution, inst: StageInstance, lock: EntryLock): Promise<InstanceResult> {
  const { hash } = inst;
  const stage = ex.labels.get(hash)!;
  const runner = ex.executor as Executor & StageRunner;
  const t0 = Date.now();
  try {
    const manifest = await runner.awaitStage(hash, {
      log: (message) => ex.emit({ type: 'log', stage, hash, message, fromExecutor: true }), // a stage runner's lines are its own notes
      started: (units) => ex.emit({ type: 'started', stage, hash, reason: reasonFor(ex, hash), ...(units ? { units } : {}) }),
      progress: (done, total) => ex.emit({ type: 'progress', stage, hash, done, total }),
    });
    assertLockHeld(lock, hash);
    ex.emit({ type: 'finished', stage, hash, seconds: manifest.seconds, metrics: manifest.metrics });
    return { hash, status: 'ran', seconds: manifest.seconds, metrics: manifest.metrics };
  } catch (e) {
    return failedResult(ex, hash, message(e), (Date.now() - t0) / 1000);
  } finally {
    await lock.release();
  }
}

function cachedResult(ex: Execution, hash: StageHash, manifest: Manifest): InstanceResult {
  ex.emit({ type: 'cached', stage: ex.labels.get(hash)!, hash });
  return { hash, status: 'cached', seconds: 0, metrics: manifest.metrics };
}

function failedResult(ex: Execution, hash: StageHash, error: string, seconds: number): InstanceResult {
  ex.emit({ type: 'failed', stage: ex.labels.get(hash)!, hash, error });
  return { hash, status: 'failed', seconds, metrics: {}, error };
}

/** A lock lost while the stage ran (this process stalled past the stale time) fails the stage. */
function assertLockHeld(lock: EntryLock, hash: StageHash): void {
  const lost = lock.compromised();
  if (lost) throw new Error(`lost the lock on store entry ${hash.slice(0, 12)}: ${lost.message}`);
}

function reasonFor(ex: Execution, hash: StageHash): string | undefined {
  return ex.forced.has(hash) ? 'forced' : ex.reasons.get(hash);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Why each instance differs from its experiment's previous run (the first reason found per hash). */
function changeReasons(store: Store, plans: ExperimentPlan[]): Map<StageHash, string> {
  const reasons = new Map<StageHash, string>();
  for (const plan of plans) {
    const previous = store.readRun(plan.experiment.name);
    for (const inst of plan.instances) {
      const why = whyChanged(store, previous, inst);
      if (why && !reasons.has(inst.hash)) reasons.set(inst.hash, why);
    }
  }
  return reasons;
}

/** Every experiment's run.json with all its stages pending, so `status` and `gc` see the run. */
function writePendingRuns(store: Store, plans: ExperimentPlan[]): ExecuteResult['runs'] {
  const runs = plans.map((plan) => ({ plan, run: pendingRun(plan) }));
  for (const { plan, run } of runs) store.writeRun(plan.experiment.name, run);
  return runs;
}

/** Rewrites the run.json of every experiment that has the instance. */
function recordResult(store: Store, runs: ExecuteResult['runs'], hash: StageHash, result: InstanceResult): void {
  for (const { plan, run } of runs) {
    const names = plan.instances.filter((i) => i.hash === hash).map((i) => i.name);
    if (names.length === 0) continue;
    for (const name of names) run[name] = runEntry(hash, result.status, result.seconds, result.metrics, result.error);
    store.writeRun(plan.experiment.name, run);
  }
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
