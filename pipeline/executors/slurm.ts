/**
 * `--executor slurm`: each stage's units become a SLURM job array (`sbatch --array`,
 * with `%N` from `--jobs N`), whose task k runs `attrib unit <hash> <k>` on a node that
 * shares the runs folder. count, run() and combine() stay in the coordinator's own
 * worker threads (run the coordinator itself as a small job, or on a login node).
 *
 * Stage by stage, not `afterok` chains: how many units a stage has is known only when
 * its inputs are finished (units() reads them), so a stage's array is submitted when
 * the scheduler has its inputs; independent stages' arrays run at the same time.
 *
 * Without accounting there is no exit status to ask for: a task is done when its
 * units/<i>/unit.json is in the store, queued or running while squeue lists it, and
 * failed when it is neither (after `settle` seconds, for a lagging shared filesystem).
 * A failed task is submitted again up to `attempts` times; then its stage fails with the
 * error line `attrib unit` wrote into the task's log. A coordinator started again finds
 * its stage's tasks still in squeue and waits for them instead of submitting twice.
 *
 * The array task's command line is written here, from this coordinator's config: the
 * plugins it loads are the config's, given as --plugin, never read from the store.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { TaskError, type Executor, type ExecutorEnv, type ExecutorFactory } from '../executor.ts';
import { awaitUnit, removeUnitLeftovers } from '../distributed/leftovers.ts';
import { ExecutorSetupError, executorSection, type DistributedEnv, type TakesEveryUnit } from '../distributed/section.ts';
import { arrayName, command, indexRanges, maxArraySize, onPath, queuedTasks, runsComment, shellQuote, type QueuedTask } from '../distributed/slurm.ts';
import type { StageHash } from '../registry.ts';
import type { Store } from '../store.ts';
import type { Task, TaskHooks, TaskResult } from '../task.ts';
import { localExecutor } from './local.ts';

/** What a stage's array asks SLURM for; `kinds:` overrides these keys per stage kind. */
export const slurmResources = z.strictObject({
  partition: z.string().min(1).optional(),
  /** --time, e.g. "02:00:00" or "1-00:00:00". */
  time: z.string().min(1).optional(),
  /** --mem per node, e.g. "16G". */
  mem: z.string().min(1).optional(),
  /** --gres, e.g. "gpu:1" or "gpu:a100:1". */
  gres: z.string().min(1).optional(),
  cpusPerTask: z.number().int().positive().optional(),
  account: z.string().min(1).optional(),
  qos: z.string().min(1).optional(),
  constraint: z.string().min(1).optional(),
  /** Further sbatch arguments, as given (e.g. ["--exclusive"]). */
  sbatchArgs: z.array(z.string()).optional(),
  /** Shell lines run before attrib in each task (e.g. "module load cuda/12"). */
  setup: z.array(z.string()).optional(),
});
export type SlurmResources = z.output<typeof slurmResources>;

export const slurmOptions = slurmResources.extend({
  /** The attrib command on the nodes (default: this node binary and this attrib's bin/attrib.js). */
  command: z.array(z.string().min(1)).min(1).optional(),
  /** Per stage kind (e.g. train: {gres: "gpu:1"}): the keys given replace the ones above for that kind's arrays. */
  kinds: z.record(z.string(), slurmResources).default({}),
  /** Times a unit's task is submitted before its stage fails. */
  attempts: z.number().int().min(1).default(3),
  /** Seconds between squeue polls. */
  poll: z.number().positive().default(5),
  /** Seconds a task may be out of squeue before its unit shows in the store (a shared filesystem can lag). */
  settle: z.number().min(0).default(10),
  /** Folder for the tasks' output, on the shared filesystem (default: <runs>/slurm-logs; relative to the working directory). */
  logs: z.string().min(1).optional(),
});
export type SlurmOptions = z.output<typeof slurmOptions>;

/** squeue may fail for a while (slurmctld restarting); give up after this long. */
const SQUEUE_PATIENCE_MS = 10 * 60_000;

interface Unit {
  hash: StageHash;
  index: number;
  hooks: TaskHooks;
  resolve(result: TaskResult): void;
  reject(error: Error): void;
  attempt: number;
  /** The array job and task running it, once submitted or adopted. */
  arrayJobId?: string;
  taskId?: number;
  missingSince?: number;
  settling?: boolean;
}

const key = (hash: StageHash, index: number) => `${hash}-${index}`;

export class SlurmExecutor implements Executor, TakesEveryUnit {
  readonly name = 'slurm';
  readonly inFlight = Number.POSITIVE_INFINITY;
  private readonly batches = new Map<StageHash, Unit[]>();
  private readonly units = new Map<string, Unit>();
  private readonly logs: string;
  private readonly command: string[];
  private timer?: NodeJS.Timeout;
  private polling = false;
  private squeueFailingSince?: number;
  private maxArray?: Promise<number>;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly o: SlurmOptions,
    private readonly plugins: string[],
    /** The % limit of every array (--jobs), or none. */
    private readonly limit: number | undefined,
    attribBin: string[],
    private readonly local: Executor,
  ) {
    this.logs = o.logs ? resolve(o.logs) : join(store.runsDir, 'slurm-logs');
    this.command = o.command ?? attribBin;
  }

  async run(task: Task, hooks: TaskHooks): Promise<TaskResult> {
    if (task.step !== 'unit') return this.local.run(task, hooks);
    if (this.closed) throw new TaskError('the executor is closed');
    const done = this.store.readUnit(task.hash, task.index);
    if (done) return { outcome: done };
    if (this.units.has(key(task.hash, task.index))) throw new TaskError(`unit ${task.index} of ${task.hash.slice(0, 12)} is already being waited for`);
    return new Promise<TaskResult>((resolve, reject) => {
      const unit: Unit = { hash: task.hash, index: task.index, hooks, resolve, reject, attempt: 0 };
      this.units.set(key(unit.hash, unit.index), unit);
      // The scheduler hands over a stage's units in one go: one array for all of them.
      let batch = this.batches.get(unit.hash);
      if (!batch) {
        this.batches.set(unit.hash, (batch = []));
        setTimeout(() => void this.flush(unit.hash), 100);
      }
      batch.push(unit);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    // Submitted tasks keep running (their units land in the store); a coordinator
    // started again picks them up. `scancel --name attrib-<hash>` stops them.
    for (const u of this.units.values()) u.reject(new TaskError('the executor was closed'));
    this.units.clear();
    await this.local.close();
  }

  /** Adopts units that an earlier coordinator's arrays still hold, submits the rest. */
  private async flush(hash: StageHash): Promise<void> {
    const batch = this.batches.get(hash) ?? [];
    this.batches.delete(hash);
    let rest = batch;
    try {
      const live = (await queuedTasks(this.store.runsDir)).filter((t) => t.hash === hash);
      const byIndex = new Map(live.map((t) => [t.index, t]));
      rest = [];
      let adopted = 0;
      for (const u of batch) {
        const t = byIndex.get(u.index);
        if (t) {
          [u.arrayJobId, u.taskId, u.attempt] = [t.arrayJobId, t.taskId, 1];
          adopted++;
        } else rest.push(u);
      }
      if (adopted) batch[0]!.hooks.log(`${adopted} unit(s) already queued or running in SLURM from an earlier run: waiting for them`);
    } catch (e) {
      // Then a restarted coordinator may submit a unit twice: harmless (it commits once).
      batch[0]?.hooks.log(`cannot list SLURM jobs (${e instanceof Error ? e.message : String(e)}); submitting all ${batch.length} unit(s)`);
      rest = batch;
    }
    await this.submit(hash, rest);
    this.startPolling();
  }

  /** Submits one array per MaxArraySize block of unit indices. */
  private async submit(hash: StageHash, units: Unit[]): Promise<void> {
    if (units.length === 0 || this.closed) return;
    const record = this.store.readStage(hash);
    if (!record) {
      for (const u of units) this.fail(u, `store entry ${hash.slice(0, 12)} has no stage.json`);
      return;
    }
    const resources: SlurmResources = { ...this.o, ...(this.o.kinds[record.kind] ?? {}) };
    this.maxArray ??= maxArraySize();
    const max = await this.maxArray;
    const blocks = new Map<number, Unit[]>();
    for (const u of units) {
      const offset = Math.floor(u.index / max) * max;
      blocks.set(offset, [...(blocks.get(offset) ?? []), u]);
    }
    const dir = join(this.logs, hash);
    mkdirSync(dir, { recursive: true });
    for (const [offset, block] of blocks) {
      const tasks = block.map((u) => u.index - offset);
      const script = join(dir, `array-${Date.now()}-${offset}.sh`);
      writeFileSync(script, this.script(hash, record.kind, offset, resources.setup ?? []), { mode: 0o755 });
      const args = [
        '--parsable',
        `--job-name=${arrayName(hash, offset)}`,
        `--comment=${runsComment(this.store.runsDir)}`,
        `--array=${indexRanges(tasks)}${this.limit ? `%${this.limit}` : ''}`,
        `--output=${join(dir, '%A_%a.out')}`,
        `--chdir=${this.store.runsDir}`, // every path in the script is absolute; runs/ exists on every node
        ...sbatchResourceArgs(resources),
        script,
      ];
      const r = await command('sbatch', args, 120_000);
      const jobId = r.stdout.trim().split(';')[0]!;
      if (r.code !== 0 || !/^\d+$/.test(jobId)) {
        const why = (r.stderr || r.stdout).trim() || `exit code ${r.code}`;
        for (const u of block) this.fail(u, `sbatch failed: ${why}`);
        continue;
      }
      for (const u of block) {
        u.arrayJobId = jobId;
        u.taskId = u.index - offset;
        u.attempt++;
        u.missingSince = undefined;
      }
      const retry = block.every((u) => u.attempt > 1);
      block[0]!.hooks.log(
        `${retry ? 'resubmitted' : 'submitted'} SLURM job array ${jobId}: ${block.length} task(s)` +
          `${this.limit ? `, at most ${this.limit} at once` : ''}${resources.partition ? `, partition ${resources.partition}` : ''}; logs in ${dir}`,
      );
    }
  }

  /** The array's batch script: only this coordinator's command line, no path from the store. */
  private script(hash: StageHash, kind: string, offset: number, setup: string[]): string {
    const attrib = [...this.command, 'unit', hash];
    const tail = ['--runs', this.store.runsDir, ...this.plugins.flatMap((p) => ['--plugin', p])];
    return [
      '#!/bin/sh',
      `# attrib: units of store entry ${hash} (${kind}), one per array task (unit = task id + ${offset}).`,
      ...setup,
      `exec ${attrib.map(shellQuote).join(' ')} "$((SLURM_ARRAY_TASK_ID + ${offset}))" ${tail.map(shellQuote).join(' ')}`,
      '',
    ].join('\n');
  }

  private startPolling(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.poll(), this.o.poll * 1000);
    this.timer.unref();
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
          for (const u of [...this.units.values()]) this.fail(u, `${e instanceof Error ? e.message : String(e)} (for ${SQUEUE_PATIENCE_MS / 60_000} minutes)`);
        }
        return;
      }
      const queued = new Set(live.map((t) => `${t.arrayJobId}_${t.taskId}`));
      const retries = new Map<StageHash, Unit[]>();
      const now = Date.now();
      for (const u of [...this.units.values()]) {
        if (u.arrayJobId === undefined || u.settling) continue; // not submitted yet
        if (this.store.readUnit(u.hash, u.index)) {
          void this.settle(u);
          continue;
        }
        if (queued.has(`${u.arrayJobId}_${u.taskId}`)) {
          u.missingSince = undefined;
          continue;
        }
        u.missingSince ??= now;
        if (now - u.missingSince < this.o.settle * 1000) continue;
        // Gone from squeue, and its unit is not in the store: that attempt failed.
        const why = this.taskError(u);
        if (u.attempt < this.o.attempts) {
          u.hooks.log(`unit ${u.index} failed in SLURM task ${u.arrayJobId}_${u.taskId} (attempt ${u.attempt} of ${this.o.attempts}): ${why}`);
          u.arrayJobId = undefined;
          retries.set(u.hash, [...(retries.get(u.hash) ?? []), u]);
        } else this.fail(u, why);
      }
      for (const [hash, units] of retries) await this.submit(hash, units);
    } finally {
      this.polling = false;
    }
  }

  private async settle(u: Unit): Promise<void> {
    u.settling = true;
    const outcome = await awaitUnit(this.store, u.hash, u.index, this.o.settle * 1000);
    if (this.units.get(key(u.hash, u.index)) !== u) return;
    this.units.delete(key(u.hash, u.index));
    if (!outcome) return u.reject(new TaskError(`unit ${u.index} vanished from the store`));
    removeUnitLeftovers(this.store, u.hash, u.index);
    u.resolve({ outcome });
  }

  /** The error `attrib unit` logged, or the log's last lines (a time limit, a lost node...). */
  private taskError(u: Unit): string {
    const path = join(this.logs, u.hash, `${u.arrayJobId}_${u.taskId}.out`);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return `SLURM task ${u.arrayJobId}_${u.taskId} ended without finishing the unit (no log at ${path})`;
    }
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const failed = lines.map((l) => /^unit \d+ of [0-9a-f]{12} failed: (.*)$/.exec(l)?.[1]).filter((m): m is string => !!m).pop();
    if (failed) return failed;
    const tail = lines.slice(-3).join(' | ');
    return `SLURM task ${u.arrayJobId}_${u.taskId} ended without finishing the unit${tail ? `: ${tail}` : ''} (log: ${path})`;
  }

  private fail(u: Unit, reason: string): void {
    if (this.units.get(key(u.hash, u.index)) !== u) return;
    this.units.delete(key(u.hash, u.index));
    u.reject(new TaskError(reason));
  }
}

/** sbatch arguments for a stage's resources. */
export function sbatchResourceArgs(r: SlurmResources): string[] {
  const args: string[] = [];
  if (r.partition) args.push(`--partition=${r.partition}`);
  if (r.time) args.push(`--time=${r.time}`);
  if (r.mem) args.push(`--mem=${r.mem}`);
  if (r.gres) args.push(`--gres=${r.gres}`);
  if (r.cpusPerTask) args.push(`--cpus-per-task=${r.cpusPerTask}`);
  if (r.account) args.push(`--account=${r.account}`);
  if (r.qos) args.push(`--qos=${r.qos}`);
  if (r.constraint) args.push(`--constraint=${r.constraint}`);
  return [...args, ...(r.sbatchArgs ?? [])];
}

export const slurmExecutor: ExecutorFactory<SlurmOptions> = {
  name: 'slurm',
  description: 'each stage\'s units become a SLURM job array (sbatch --array, %--jobs) running `attrib unit` on nodes that share the runs folder',
  options: executorSection('slurm', slurmOptions),
  create(env: ExecutorEnv<SlurmOptions> & DistributedEnv) {
    for (const cmd of ['sbatch', 'squeue']) {
      if (!onPath(cmd)) throw new ExecutorSetupError(`the slurm executor needs ${cmd} on PATH (run attrib on a SLURM login node)`);
    }
    let bin: string[] | undefined;
    if (env.workerEntry) bin = [process.execPath, fileURLToPath(new URL('attrib.js', env.workerEntry))];
    if (!env.options.command && !bin) throw new ExecutorSetupError('the slurm executor needs executor.slurm.command (the attrib command on the nodes)');
    // count, run() and combine() here: --jobs threads at most, and no more than this machine's cores.
    return new SlurmExecutor(env.store, env.options, env.plugins, env.cli?.jobs, bin ?? [], localExecutor.create({ ...env, jobs: Math.min(env.jobs, availableParallelism()) }));
  },
};
