/**
 * `--executor slurm`: the cluster runs the DAG. The coordinator submits every stage it
 * must compute up front, as jobs joined by `afterok` dependencies, and then only watches
 * (squeue and the store) to report progress; it can be stopped and started again, and
 * the jobs go on without it. Per stage (names in jobs.ts):
 *
 *   single-step stage:  finish job (`attrib unit <hash> finish`: run(), manifest)
 *                         --dependency=afterok:<finish jobs of its inputs>
 *   stage with units:   count job  (`attrib slurm-expand <hash>`)
 *                         --dependency=afterok:<finish jobs of its inputs>
 *                       finish job (`attrib unit <hash> finish`: combine(), manifest)
 *                         --dependency=afterok:<count job>
 *
 * How many units a stage has is known only once its inputs are finished, so the count
 * job makes the array: it counts the units, submits the unfinished ones as a job array
 * (`sbatch --array=...%<--jobs>`, task k runs `attrib unit <hash> <k>`), and points
 * the finish job's dependency at that array (`scontrol update ... Dependency=afterok:`).
 * The count job is submitted held and released once its finish job exists, so it can
 * never run before there is a finish job to update. Every job has
 * `--kill-on-invalid-dep=yes`: when a job fails, SLURM cancels everything downstream.
 *
 * Without accounting there is no exit status to ask for: a stage is done when its
 * manifest is in the store, under way while its finish job is in squeue, and failed when
 * its finish job has left squeue without a manifest (after `settle` seconds, for a
 * lagging shared filesystem); the error is the line `attrib unit` / `attrib slurm-expand`
 * wrote into a job's log. An array task tries its unit up to `attempts` times before it
 * fails (SLURM itself requeues tasks of a node that died). A coordinator started again
 * finds a stage's finish job still in squeue and waits for it instead of submitting
 * twice; stray jobs of an interrupted submission are cancelled and submitted anew.
 *
 * Every job's script is written here, from this coordinator's config, and sbatch keeps a
 * copy: the plugins it loads are the config's, given as --plugin, never read from the store.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TaskError, type Executor, type StageHooks, type StageRunner, type StageToRun } from '../../executor.ts';
import type { StageHash } from '../../registry.ts';
import type { Manifest, Store } from '../../store.ts';
import type { Task, TaskHooks, TaskResult } from '../../task.ts';
import { command, exec, jobName, queuedTasks, readExpandRecord, runsComment, sbatch, script, type ExpandRecord, type QueuedTask } from './jobs.ts';
import { sbatchResourceArgs, type ArraySpec, type SlurmOptions, type SlurmResources } from './options.ts';

/** squeue may fail for a while (slurmctld restarting); give up after this long. */
const SQUEUE_PATIENCE_MS = 10 * 60_000;

interface Waiter {
  hash: StageHash;
  hooks: StageHooks;
  resolve(manifest: Manifest): void;
  reject(error: Error): void;
  started: boolean;
  done: number;
  /** Unit arrays already reported. */
  arrays: Set<string>;
  /** What the stage's count job submitted, once read (it never changes after). */
  record?: ExpandRecord;
  missingSince?: number;
}

export class SlurmExecutor implements Executor, StageRunner {
  readonly name = 'slurm';
  private readonly logs: string;
  private readonly command: string[];
  /** The stages handed over by submitStages. */
  private readonly stages = new Map<StageHash, StageToRun>();
  /** The job whose success means the stage finished (its finish job), per stage. */
  private readonly finishJobs = new Map<StageHash, string>();
  /** The count job this coordinator submitted, per stage with units (not for adopted stages). */
  private readonly countJobs = new Map<StageHash, string>();
  /** Stages whose jobs could not be submitted, with why. */
  private readonly unsubmitted = new Map<StageHash, string>();
  private readonly waiters = new Map<StageHash, Waiter>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private squeueFailingSince?: number;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly o: SlurmOptions,
    private readonly plugins: string[],
    /** The % limit of every array (--jobs), or none. */
    private readonly limit: number | undefined,
    attribBin: string[],
  ) {
    this.logs = o.logs ? resolve(o.logs) : join(store.runsDir, 'slurm-logs');
    this.command = o.command ?? attribBin;
  }

  async run(task: Task, _hooks: TaskHooks): Promise<TaskResult> {
    throw new TaskError(`the slurm executor runs whole stages (submitStages), not single tasks (${task.step} of ${task.hash.slice(0, 12)})`);
  }

  async submitStages(stages: readonly StageToRun[], log: (hash: StageHash, message: string) => void): Promise<void> {
    let live: QueuedTask[] = [];
    try {
      live = await queuedTasks(this.store.runsDir);
    } catch (e) {
      // Then a restarted coordinator may submit a stage twice: harmless (each unit and manifest is committed once).
      for (const stage of stages.slice(0, 1)) log(stage.hash, `cannot list SLURM jobs (${e instanceof Error ? e.message : String(e)}); submitting every stage`);
    }
    for (const stage of stages) {
      this.stages.set(stage.hash, stage);
      try {
        await this.submitStage(stage, live.filter((j) => j.hash === stage.hash), (m) => log(stage.hash, m));
      } catch (e) {
        this.unsubmitted.set(stage.hash, e instanceof Error ? e.message : String(e));
      }
    }
  }

  awaitStage(hash: StageHash, hooks: StageHooks): Promise<Manifest> {
    const why = this.unsubmitted.get(hash);
    if (why) return Promise.reject(new TaskError(why));
    if (this.closed) return Promise.reject(new TaskError('the executor is closed'));
    return new Promise<Manifest>((resolve, reject) => {
      this.waiters.set(hash, { hash, hooks, resolve, reject, started: false, done: -1, arrays: new Set() });
      this.startPolling();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    // Submitted jobs keep running (their results land in the store); a coordinator
    // started again picks them up. `scancel --name attrib-<hash>-finish` etc. stop them.
    for (const w of this.waiters.values()) w.reject(new TaskError('the executor was closed'));
    this.waiters.clear();
  }

  /** A stage's jobs: adopted from an earlier coordinator when its finish job is still queued, else submitted. */
  private async submitStage(stage: StageToRun, live: QueuedTask[], log: (message: string) => void): Promise<void> {
    const { hash } = stage;
    const finish = live.find((j) => j.role === 'finish');
    if (finish && !stage.forced) {
      this.finishJobs.set(hash, finish.arrayJobId);
      log(`already in SLURM from an earlier run (finish job ${finish.arrayJobId}): waiting for it`);
      return;
    }
    if (live.length) {
      // Jobs of an interrupted submission (or of a forced stage): start over.
      const ids = [...new Set(live.map((j) => j.arrayJobId))];
      await command('scancel', ids, 60_000);
      log(`cancelled SLURM job(s) ${ids.join(', ')} left by an earlier run`);
    }
    // What killed runs left (a cancelled task still writing only loses its own staging folder).
    this.store.cleanup(hash);

    const deps: string[] = [];
    for (const up of stage.upstream) {
      const id = this.finishJobs.get(up);
      if (!id) throw new TaskError(`not submitted: input ${up.slice(0, 12)} has no SLURM job (${this.unsubmitted.get(up) ?? 'not submitted'})`);
      deps.push(id);
    }
    const resources: SlurmResources = { ...this.o, ...(this.o.kinds[stage.kind] ?? {}) };
    const dir = join(this.logs, hash);
    mkdirSync(dir, { recursive: true });
    const common = [`--comment=${runsComment(this.store.runsDir)}`, `--chdir=${this.store.runsDir}`, '--kill-on-invalid-dep=yes', ...sbatchResourceArgs(resources)];
    const after = (ids: string[]) => (ids.length ? [`--dependency=afterok:${ids.join(':')}`] : []);
    const attrib = (...args: string[]) => [...this.command, ...args, '--runs', this.store.runsDir, ...this.plugins.flatMap((p) => ['--plugin', p])];

    if (!stage.hasUnits) {
      const id = await sbatch([...common, `--job-name=${jobName(hash, 'finish')}`, `--output=${join(dir, 'finish-%j.out')}`, ...after(deps)], script(dir, 'finish', `store entry ${hash} (${stage.kind}): run(), then the manifest`, resources.setup ?? [], exec(attrib('unit', hash, 'finish'))));
      this.finishJobs.set(hash, id);
      log(`submitted SLURM job ${id}${deps.length ? ` (after ${deps.join(', ')})` : ''}; logs in ${dir}`);
      return;
    }
    const spec: ArraySpec = { command: this.command, plugins: this.plugins, limit: this.limit, sbatch: sbatchResourceArgs(resources), setup: resources.setup ?? [], logs: dir, attempts: this.o.attempts };
    const count = await sbatch(
      [...common, '--hold', `--job-name=${jobName(hash, 'count')}`, `--output=${join(dir, 'count-%j.out')}`, ...after(deps)],
      script(dir, 'count', `store entry ${hash} (${stage.kind}): count the units, submit them as an array, make the finish job wait for it`, resources.setup ?? [], exec(attrib('slurm-expand', hash, '--spec', JSON.stringify(spec)))),
    );
    let finishId: string;
    try {
      finishId = await sbatch([...common, `--job-name=${jobName(hash, 'finish')}`, `--output=${join(dir, 'finish-%j.out')}`, ...after([count])], script(dir, 'finish', `store entry ${hash} (${stage.kind}): combine(), then the manifest`, resources.setup ?? [], exec(attrib('unit', hash, 'finish'))));
    } catch (e) {
      await command('scancel', [count], 60_000);
      throw e;
    }
    const released = await command('scontrol', ['release', count], 60_000);
    if (released.code !== 0) throw new TaskError(`scontrol release ${count} failed: ${(released.stderr || released.stdout).trim()}`);
    this.finishJobs.set(hash, finishId);
    this.countJobs.set(hash, count);
    log(`submitted SLURM jobs: count ${count}${deps.length ? ` (after ${deps.join(', ')})` : ''}, finish ${finishId} (after the unit array that ${count} submits); logs in ${dir}`);
  }

  private startPolling(): void {
    if (this.timer || this.closed) return;
    // Not unref'd: while stages are awaited, this timer is what keeps the coordinator alive.
    this.timer = setInterval(() => void this.poll(), this.o.poll * 1000);
    void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      let live: QueuedTask[];
      try {
        live = await queuedTasks(this.store.runsDir);
        this.squeueFailingSince = undefined;
      } catch (e) {
        this.squeueFailingSince ??= Date.now();
        if (Date.now() - this.squeueFailingSince > SQUEUE_PATIENCE_MS) {
          for (const w of [...this.waiters.values()]) this.settle(w, new TaskError(`${e instanceof Error ? e.message : String(e)} (for ${SQUEUE_PATIENCE_MS / 60_000} minutes)`));
        }
        return;
      }
      const now = Date.now();
      for (const w of [...this.waiters.values()]) {
        const check = this.store.readManifest(w.hash);
        this.report(w, live);
        if (check.ok) {
          this.settle(w, check.manifest);
          continue;
        }
        const finish = this.finishJobs.get(w.hash);
        if (finish && live.some((j) => j.arrayJobId === finish)) {
          w.missingSince = undefined;
          continue;
        }
        w.missingSince ??= now;
        if (now - w.missingSince >= this.o.settle * 1000) this.settle(w, new TaskError(stageError(join(this.logs, w.hash)) ?? (await this.jobsError(w, finish))));
      }
    } finally {
      this.polling = false;
    }
  }

  /**
   * started, its unit arrays, and units done. A stage with units has started once its
   * count job wrote what it submitted (expand.ts): how many units were finished before
   * (an earlier run's) and each array's task count. Neither squeue nor the store can say
   * that later: a task may finish, and leave squeue, before the next poll.
   */
  private report(w: Waiter, live: QueuedTask[]): void {
    const hasUnits = this.stages.get(w.hash)?.hasUnits ?? false;
    if (hasUnits) w.record ??= readExpandRecord(join(this.logs, w.hash), this.countJobs.get(w.hash));
    const record = w.record;
    if (!w.started) {
      const began = hasUnits ? record !== undefined : live.some((j) => j.hash === w.hash && j.state === 'RUNNING');
      if (!began && !this.store.readManifest(w.hash).ok) return;
      w.started = true;
      w.done = record ? record.doneBefore : 0;
      w.hooks.started(record ? { done: w.done, total: record.units } : undefined);
    }
    for (const { id, tasks } of record?.arrays ?? []) {
      if (w.arrays.has(id)) continue;
      w.arrays.add(id);
      w.hooks.log(`SLURM job array ${id}: ${tasks} task(s) to run${this.limit ? `, at most ${this.limit} at once` : ''}`);
    }
    if (!record) return;
    const done = this.store.finishedUnits(w.hash).length;
    if (done !== w.done) {
      w.done = done;
      w.hooks.progress(done, record.units);
    }
  }

  /** No job logged an error (a time limit, a cancel, a lost node): say what SLURM still knows of the jobs. */
  private async jobsError(w: Waiter, finish: string | undefined): Promise<string> {
    const jobs = [...w.arrays, ...(finish ? [finish] : [])];
    const states = (await Promise.all(jobs.map(async (id) => [id, await jobState(id)] as const))).filter(([, st]) => st);
    const known = states.length ? `: ${states.map(([id, st]) => `job ${id} ${st}`).join(', ')}` : '';
    return `its SLURM jobs ended without finishing it${known}; logs in ${join(this.logs, w.hash)}`;
  }

  private settle(w: Waiter, result: Manifest | Error): void {
    if (this.waiters.get(w.hash) !== w) return;
    this.waiters.delete(w.hash);
    if (result instanceof Error) w.reject(result);
    else w.resolve(result);
  }
}

/** Why a stage's jobs ended without its manifest: the error line a job logged, if any. */
function stageError(dir: string): string | undefined {
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.out'));
  } catch {
    // no logs at all
  }
  let unitError: string | undefined;
  let stepError: string | undefined;
  for (const name of names.sort()) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      const unit = /^unit (\d+) of [0-9a-f]{12} failed: (.*)$/.exec(line.trim());
      if (unit) unitError = `unit ${unit[1]} failed: ${unit[2]}`;
      const step = /^(?:count|finish|expand) of [0-9a-f]{12} failed: (.*)$/.exec(line.trim());
      if (step) stepError = step[1];
    }
  }
  return unitError ?? stepError;
}

/** JobState and Reason of a job SLURM still remembers (MinJobAge), e.g. "TIMEOUT (TimeLimit)". */
async function jobState(id: string): Promise<string | undefined> {
  const r = await command('scontrol', ['show', 'job', id], 30_000);
  const state = /JobState=(\S+)/.exec(r.stdout)?.[1];
  const reason = /Reason=(\S+)/.exec(r.stdout)?.[1];
  return state ? `${state}${reason && reason !== 'None' ? ` (${reason})` : ''}` : undefined;
}

