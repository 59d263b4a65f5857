/**
 * `--executor bullmq --redis URL`: the coordinator (`attrib run`) puts every unit that is
 * not finished on a Redis queue (bullmq) and waits; `attrib worker --redis URL --runs DIR`
 * processes, on any machines that share the runs folder, take units off it and commit
 * them into the store (worker.ts). count, run() and combine() stay in
 * the coordinator's own worker threads: they are short next to the units, and combine
 * reads every unit anyway.
 *
 * - A job is {hash, index} with id `<hash>-<index>`: a unit is never queued twice. A
 *   coordinator that is stopped and started again finds its units still queued or
 *   running and waits for them; finished units are in the store and are not queued.
 * - Delivery is at least once. A worker that dies mid-unit stops renewing the job's
 *   lock; a live worker's stalled-job check puts the job back on the queue. A unit that
 *   runs twice commits once (the store keeps the first copy; units are deterministic).
 * - A unit that fails `attempts` times fails its stage with its error message.
 * - Completion comes from the queue's events, checked every `poll` seconds against the
 *   queue and the store (events can be missed while Redis reconnects). The store is the
 *   truth: a job is done when units/<i>/unit.json is there.
 */
import type { Queue, QueueEvents } from 'bullmq';
import { z } from 'zod';
import { TaskError, type Executor, type TakesEveryUnit } from '../../executor.ts';
import type { StageHash } from '../../registry.ts';
import type { Store } from '../../store.ts';
import type { Task, TaskHooks, TaskResult } from '../../task.ts';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, JOB_NAME, jobId, queueName, type UnitJob, type UnitProgress } from './jobs.ts';
import { awaitUnit, removeUnitLeftovers } from './leftovers.ts';
import { connect, ping, redact, type Connection } from './redis.ts';

export const bullmqOptions = z.strictObject({
  /** Queue name; workers must be started with the same `--queue`. */
  queue: queueName.default(DEFAULT_QUEUE),
  /** Prefix of every Redis key of the queue; workers: `--prefix`. */
  prefix: queueName.default(DEFAULT_PREFIX),
  /** Times a unit is tried before its stage fails. */
  attempts: z.number().int().min(1).default(3),
  /** Seconds between a failed attempt and the next. */
  backoff: z.number().min(0).default(2),
  /** Seconds finished and failed jobs stay in Redis (for inspection). */
  keep: z.number().min(0).default(24 * 3600),
  /** Seconds between checks of the queue and the store (besides the queue's events). */
  poll: z.number().positive().default(5),
  /** Seconds to wait for a finished unit to appear in the runs folder (a shared filesystem can lag). */
  settle: z.number().min(0).default(10),
});
export type BullmqOptions = z.output<typeof bullmqOptions>;

interface Waiter {
  id: string;
  job: UnitJob;
  hooks: TaskHooks;
  resolve(result: TaskResult): void;
  reject(error: Error): void;
  settling: boolean;
  /** Set once its job is on the queue (queued here or found there). */
  queued: boolean;
}

export class BullmqExecutor implements Executor, TakesEveryUnit {
  readonly name = 'bullmq';
  /** Every ready unit goes on the queue; the workers' --concurrency is the limit. */
  readonly inFlight = Number.POSITIVE_INFINITY;
  private conn?: Connection;
  private eventsConn?: Connection;
  private queue?: Queue;
  private events?: QueueEvents;
  /** Connects on the first unit (a run whose units are all done never talks to Redis). */
  private ready?: Promise<void>;
  private readonly waiting = new Map<string, Waiter>();
  private readonly announce = new Map<StageHash, { queued: number; adopted: number; hooks: TaskHooks; timer: NodeJS.Timeout }>();
  private timer?: NodeJS.Timeout;
  private reconciling = false;
  private checkedWorkers = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly url: string,
    private readonly o: BullmqOptions,
    private readonly local: Executor,
  ) {}

  private start(): Promise<void> {
    this.ready ??= (async () => {
      // bullmq loads here, on the first unit to queue: commands that never queue start without it.
      const { Queue, QueueEvents } = await import('bullmq');
      const conn = (this.conn = await connect(this.url, 'attrib-coordinator'));
      await ping(conn, this.url);
      if (this.closed) return;
      this.eventsConn = await connect(this.url, 'attrib-coordinator-events');
      const queue = (this.queue = new Queue(this.o.queue, { connection: conn.redis, prefix: this.o.prefix }));
      const events = (this.events = new QueueEvents(this.o.queue, { connection: this.eventsConn.redis, prefix: this.o.prefix }));
      // bullmq re-emits connection errors; the connections reconnect by themselves.
      queue.on('error', () => {});
      events.on('error', () => {});
      events.on('completed', ({ jobId: id }) => {
        const w = this.waiting.get(id);
        if (w) void this.settle(w);
      });
      events.on('failed', ({ jobId: id, failedReason }) => {
        const w = this.waiting.get(id);
        if (w) this.fail(w, failedReason);
      });
      events.on('progress', ({ jobId: id, data }) => {
        const w = this.waiting.get(id);
        if (!w) return;
        const p = (typeof data === 'number' ? { fraction: data } : data) as UnitProgress;
        if (typeof p.fraction === 'number') w.hooks.progress(p.fraction);
        if (typeof p.log === 'string') w.hooks.log(p.log);
      });
      events.on('stalled', ({ jobId: id }) => {
        const w = this.waiting.get(id);
        if (w) w.hooks.log(`unit ${w.job.index}: its worker stopped answering; the unit goes back on the queue`, 'executor');
      });
      await events.waitUntilReady();
    })();
    return this.ready;
  }

  async run(task: Task, hooks: TaskHooks): Promise<TaskResult> {
    if (task.step !== 'unit') return this.local.run(task, hooks);
    if (this.closed) throw new TaskError('the executor is closed');
    const done = this.store.readUnit(task.hash, task.index);
    if (done) return { outcome: done };
    try {
      await this.start();
      if (this.closed) throw new Error('the executor was closed');
    } catch (e) {
      throw new TaskError(e instanceof Error ? e.message : String(e));
    }
    const job: UnitJob = { hash: task.hash, index: task.index };
    const id = jobId(job.hash, job.index);
    if (this.waiting.has(id)) throw new TaskError(`unit ${task.index} of ${task.hash.slice(0, 12)} is already being waited for`);
    return new Promise<TaskResult>((resolve, reject) => {
      const w: Waiter = { id, job, hooks, resolve, reject, settling: false, queued: false };
      this.waiting.set(id, w);
      this.startPolling();
      this.enqueue(w).catch((e) => this.fail(w, `cannot queue the unit: ${e instanceof Error ? e.message : String(e)}`));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const a of this.announce.values()) clearTimeout(a.timer);
    for (const w of this.waiting.values()) w.reject(new TaskError('the executor was closed'));
    this.waiting.clear();
    // Closing waits for Redis; when it is away, do not wait for ever: force it.
    const bounded = async (p: Promise<unknown>) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([p.catch(() => {}), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    };
    if (this.ready) await bounded(this.ready);
    const parts = [this.events, this.queue].filter((x) => x !== undefined);
    await bounded(Promise.allSettled(parts.map((x) => x.close())));
    await bounded(Promise.allSettled(parts.map((x) => x.disconnect())));
    this.conn?.redis.disconnect();
    this.eventsConn?.redis.disconnect();
    await this.local.close();
  }

  /** Queues the unit unless its job is already waiting or running (queued by an earlier coordinator). */
  private async enqueue(w: Waiter): Promise<void> {
    const existing = await this.queue!.getJob(w.id);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') {
        w.queued = true;
        this.note(w, 'adopted');
        return;
      }
      // A finished job of an earlier run whose unit is not in the store (removed, forced,
      // or failed then): run it again.
      await existing.remove();
    }
    await this.queue!.add(JOB_NAME, w.job, {
      jobId: w.id,
      attempts: this.o.attempts,
      backoff: { type: 'fixed', delay: Math.round(this.o.backoff * 1000) },
      removeOnComplete: { age: Math.round(this.o.keep) },
      removeOnFail: { age: Math.round(this.o.keep) },
    });
    w.queued = true;
    this.note(w, 'queued');
  }

  /** One log line per stage for a batch of units queued together. */
  private note(w: Waiter, what: 'queued' | 'adopted'): void {
    const hash = w.job.hash;
    let a = this.announce.get(hash);
    if (!a) {
      const flush = () => {
        this.announce.delete(hash);
        if (this.closed) return;
        const parts = [];
        if (a!.queued) parts.push(`queued ${a!.queued} unit${a!.queued === 1 ? '' : 's'}`);
        if (a!.adopted) parts.push(`${a!.adopted} already queued by an earlier run`);
        a!.hooks.log(`${parts.join(', ')} on bullmq queue "${this.o.queue}" at ${redact(this.url)}`, 'executor');
        void this.checkWorkers(a!.hooks);
      };
      a = { queued: 0, adopted: 0, hooks: w.hooks, timer: setTimeout(flush, 300) };
      this.announce.set(hash, a);
    }
    a[what]++;
  }

  private async checkWorkers(hooks: TaskHooks): Promise<void> {
    if (this.checkedWorkers) return;
    this.checkedWorkers = true;
    try {
      if ((await this.queue!.getWorkersCount()) === 0) {
        hooks.log(`no worker is listening on queue "${this.o.queue}" yet: start some with \`attrib worker --redis URL --runs ${this.store.runsDir}\` (and --plugin for the config's plugins)`, 'executor');
      }
    } catch {
      // CLIENT LIST may be disabled on a managed Redis: nothing to say then.
    }
  }

  /** The job finished: wait for its unit in the store, then resolve. */
  private async settle(w: Waiter): Promise<void> {
    if (w.settling) return;
    w.settling = true;
    const outcome = await awaitUnit(this.store, w.job.hash, w.job.index, this.o.settle * 1000);
    if (this.waiting.get(w.id) !== w) return;
    if (outcome) {
      this.waiting.delete(w.id);
      removeUnitLeftovers(this.store, w.job.hash, w.job.index);
      w.resolve({ outcome });
      return;
    }
    this.fail(
      w,
      `the queue says the unit finished, but ${this.store.unitDir(w.job.hash, w.job.index)} is not there: ` +
        `do the workers use this runs folder (attrib worker --runs ${this.store.runsDir})?`,
    );
  }

  private fail(w: Waiter, reason: string): void {
    if (this.waiting.get(w.id) !== w) return;
    this.waiting.delete(w.id);
    const why = /stalled more than allowable limit/.test(reason)
      ? `${reason} (the workers that ran it died or stopped renewing its lock; see attrib worker --lock-duration and --max-stalled)`
      : reason;
    w.reject(new TaskError(why));
  }

  private startPolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.reconcile(), this.o.poll * 1000);
    this.timer.unref();
  }

  /** The safety net under the events: look at the store and the queue for every unit waited for. */
  private async reconcile(): Promise<void> {
    if (this.reconciling || this.closed) return;
    this.reconciling = true;
    try {
      for (const w of [...this.waiting.values()]) {
        if (w.settling || !w.queued || this.closed) continue;
        if (this.store.readUnit(w.job.hash, w.job.index)) {
          void this.settle(w);
          continue;
        }
        const state = await this.queue!.getJobState(w.id);
        if (state === 'completed') void this.settle(w);
        else if (state === 'failed') this.fail(w, (await this.queue!.getJob(w.id))?.failedReason ?? 'the job failed');
        else if (state === 'unknown' && this.waiting.get(w.id) === w) {
          w.hooks.log(`unit ${w.job.index}: its job is gone from the queue; queueing it again`, 'executor');
          w.queued = false;
          await this.enqueue(w);
        }
      }
    } catch {
      // Redis is away; the next round tries again.
    } finally {
      this.reconciling = false;
    }
  }
}
