/**
 * A run of loaded experiments, as `attrib run` and the programmatic `runConfig` both do
 * it: plan → preflight (the arguments, the executor's options, the registry's
 * PREFLIGHTS checks) → executor → execute, which records run.json as stages settle;
 * each experiment's run record (runs/<experiment>/history/<id>.json) is written when
 * the run starts and again when it ends.
 * A user's mistake found on the way comes back as ConfigErrors, before any worker
 * starts; a stage's failure is in the result (`ok: false`), not an error.
 */
import { availableParallelism, hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { LoadedConfig } from './config.ts';
import { fail, ok, type ConfigError, type Result } from './errors.ts';
import type { RunEvent } from './events.ts';
import { execute, type ExecuteResult } from './execute.ts';
import { ExecutorSetupError, inFlight, type Executor, type ExecutorFactory } from './executor.ts';
import { executorNames, findExecutor } from './executors/index.ts';
import { planExperiment, selectStages, type ExperimentPlan } from './plan.ts';
import { allSucceeded, gitState, newRunId, pendingRun } from './record.ts';
import { PREFLIGHTS, type Registry } from './registry.ts';
import { Store, type HistoryRecord, type RunRecord } from './store.ts';
import { errorAt, whereIn } from './locations.ts';
import { issuesToErrors } from './validate.ts';
import { ATTRIB_VERSION } from './version.ts';

export interface RunExperimentsOptions {
  /** With the config's plugins registered (loadConfig does that). */
  registry: Registry;
  /** Where run folders and the store live. */
  runsDir: string;
  /** An executor name: 'local', 'inline', or one registered. */
  executor: string;
  /** Tasks at once as given (`--jobs`); default: the number of cores. A cluster executor may apply its own. */
  jobs?: number;
  /** Stage names to re-run even when cached. */
  force?: readonly string[];
  /** Run only these stages and what they need (`attrib run CONFIG STAGE...`). */
  targets?: readonly string[];
  /** Leave out what is downstream of these stages (`--until`). */
  until?: readonly string[];
  /** The bullmq executor's Redis URL (`--redis`). */
  redis?: string;
  /** Module that worker threads start from (bin/worker.js). */
  workerEntry?: URL;
  onEvent?: (event: RunEvent) => void;
  /** `--quiet`: preflight checks print nothing (e.g. no `backend: ...` line). */
  quiet?: boolean;
}

export interface RunResult extends ExecuteResult {
  plans: ExperimentPlan[];
  /** This run's id (its records: runs/<experiment>/history/<id>.json). */
  id: string;
}

export async function runExperiments(config: LoadedConfig, opts: RunExperimentsOptions): Promise<Result<RunResult, ConfigError[]>> {
  const planned = planRun(config, opts);
  if (!planned.ok) return planned;
  const plans = planned.value;
  const ready = await preflight(config, plans, opts);
  if (!ready.ok) return ready;
  const jobs = opts.jobs ?? availableParallelism();
  const store = new Store(resolve(opts.runsDir));
  const created = createExecutor(ready.value.factory, {
    registry: opts.registry,
    store,
    jobs,
    plugins: config.plugins,
    workerEntry: opts.workerEntry,
    options: ready.value.options,
    cli: { jobs: opts.jobs, redis: opts.redis },
  });
  if (!created.ok) return created;
  const executor = created.value;
  const selected = opts.targets?.length || opts.until?.length ? [...(opts.targets ?? []), ...(opts.until ?? []).map((u) => `until ${u}`)] : undefined;
  const records = startRecords(store, config, plans, selected);
  const before = selected ? plans.map((p) => store.readRun(p.experiment.name)) : [];
  let result: ExecuteResult;
  try {
    result = await execute(plans, { store, executor, jobs: inFlight(executor, jobs), force: opts.force, onEvent: opts.onEvent, attribVersion: ATTRIB_VERSION });
  } finally {
    await executor.close();
  }
  finishRecords(store, records, result);
  if (selected) restoreUnselected(store, config, before);
  return ok({ ...result, plans, id: records[0]!.id });
}

/** One record per experiment, all stages pending, under one id for the whole run. */
function startRecords(store: Store, config: LoadedConfig, plans: ExperimentPlan[], selected: string[] | undefined): HistoryRecord[] {
  const id = newRunId();
  const started = new Date().toISOString();
  const git = gitState(dirname(config.source.file));
  return plans.map((plan, i) => {
    const record: HistoryRecord = {
      id,
      experiment: plan.experiment.name,
      config: config.source.display,
      started,
      status: 'running',
      ...(selected ? { selected } : {}),
      overrides: config.overrides,
      point: plan.experiment.point.map((p) => ({ path: p.path, value: p.value })),
      resolved: config.documents[i],
      ...(git ? { git } : {}),
      attrib: ATTRIB_VERSION,
      host: hostname(),
      pid: process.pid,
      stages: pendingRun(plan),
    };
    store.writeHistory(record);
    return record;
  });
}

/**
 * After a partial run, run.json ("the latest") keeps the earlier entries of the stages
 * left out, where they are still the instances the config means, so status and reports
 * still see the whole experiment. The run's own record holds only what it ran.
 */
function restoreUnselected(store: Store, config: LoadedConfig, before: (RunRecord | undefined)[]): void {
  config.experiments.forEach((experiment, i) => {
    const now = store.readRun(experiment.name) ?? {};
    const merged: RunRecord = {};
    for (const inst of planExperiment(experiment).instances) {
      const entry = now[inst.name] ?? (before[i]?.[inst.name]?.hash === inst.hash ? before[i]![inst.name] : undefined);
      if (entry) merged[inst.name] = entry;
    }
    store.writeRun(experiment.name, merged);
  });
}

function finishRecords(store: Store, records: HistoryRecord[], result: ExecuteResult): void {
  const finished = new Date().toISOString();
  for (const record of records) {
    const stages = result.runs.find((r) => r.plan.experiment.name === record.experiment)?.run ?? record.stages;
    store.writeHistory({ ...record, finished, status: allSucceeded(stages) ? 'complete' : 'failed', stages });
  }
}

/** The plans of a run: every experiment's, cut to the stages asked for; unknown stage names are the user's mistake. */
export function planRun(config: LoadedConfig, opts: Pick<RunExperimentsOptions, 'targets' | 'until' | 'force'>): Result<ExperimentPlan[]> {
  const full = config.experiments.map(planExperiment);
  const names = [...new Set(full.flatMap((p) => p.instances.map((i) => i.name)))];
  const asked: [string, readonly string[] | undefined][] = [['stage', opts.targets], ['--until', opts.until], ['--force', opts.force]];
  for (const [what, list] of asked) {
    for (const stage of list ?? []) {
      if (!names.includes(stage)) return fail([{ file: what === 'stage' ? config.source.display : what, message: `no stage named "${stage}" (stages: ${names.join(', ')})` }]);
    }
  }
  return ok(full.map((p) => selectStages(p, opts.targets ?? [], opts.until ?? [])));
}

/** Everything checked before an executor exists: the executor and its options, the registry's preflight checks. */
async function preflight(config: LoadedConfig, plans: ExperimentPlan[], opts: RunExperimentsOptions): Promise<Result<{ factory: ExecutorFactory; options: unknown }>> {
  const factory = findExecutor(opts.executor, opts.registry);
  if (!factory) return fail([{ file: '--executor', message: `unknown executor "${opts.executor}" (known: ${executorNames(opts.registry).join(', ')})` }]);
  // One executor serves every sweep point: it takes the first point's `executor:` section,
  // and the preflight checks look at the first point's backend.
  const first = config.experiments[0]!;
  const where = whereIn(config.source);
  let options: unknown = first.executor;
  if (factory.options) {
    const parsed = factory.options.safeParse(first.executor, { reportInput: true });
    if (!parsed.success) return fail(issuesToErrors(where, ['executor'], parsed.error.issues, first.executor));
    options = parsed.data;
  }
  for (const check of opts.registry.extensions(PREFLIGHTS).values()) {
    const problem = await check({ backend: first.backend, quiet: opts.quiet });
    if (problem) return fail([errorAt(where, ['backend'], problem)]);
  }
  return ok({ factory, options });
}

/** A missing --redis or sbatch is the user's to fix: an error value, not a crash. */
function createExecutor(factory: ExecutorFactory, env: Parameters<ExecutorFactory['create']>[0]): Result<Executor> {
  try {
    return ok(factory.create(env));
  } catch (e) {
    if (e instanceof ExecutorSetupError) return fail([{ file: '--executor', message: e.message }]);
    throw e;
  }
}
