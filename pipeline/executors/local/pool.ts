/**
 * The local executor's pool of `--jobs` worker threads, kept alive across stages, so
 * CPU-bound units really use all cores (one JavaScript thread cannot) and each thread
 * keeps its own tensor backend. A thread starts from `workerEntry` (bin/worker.js),
 * which registers the built-in kinds and the config's plugins and then serves tasks
 * (worker-loop.ts). A crashed thread fails only its task and is replaced.
 */
import { Worker } from 'node:worker_threads';
import { TaskError, type Executor } from '../../executor.ts';
import type { Task, TaskHooks, TaskResult } from '../../task.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-loop.ts';

interface Job {
  id: number;
  task: Task;
  hooks: TaskHooks;
  resolve(result: TaskResult): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  job?: Job;
}

export class ThreadPool implements Executor {
  readonly name = 'local';
  private readonly threads = new Set<Thread>();
  private readonly idle: Thread[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly entry: URL,
    private readonly size: number,
    private readonly setup: WorkerSetup,
    private readonly runsDir: string,
  ) {}

  run(task: Task, hooks: TaskHooks): Promise<TaskResult> {
    if (this.closed) return Promise.reject(new TaskError('the executor is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, hooks, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new TaskError('the executor was closed'));
    await Promise.all([...this.threads].map((t) => t.worker.terminate()));
    this.threads.clear();
    this.idle.length = 0;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const thread = this.idle.pop() ?? (this.threads.size < this.size ? this.spawn() : undefined);
      if (!thread) return;
      const job = this.queue.shift()!;
      thread.job = job;
      thread.worker.postMessage({ id: job.id, task: job.task, runsDir: this.runsDir } satisfies ToWorker);
    }
  }

  private spawn(): Thread {
    const worker = new Worker(this.entry, { workerData: this.setup });
    const thread: Thread = { worker };
    this.threads.add(thread);
    worker.on('message', (msg: FromWorker) => {
      const job = thread.job;
      if (!job || msg.id !== job.id) return;
      if (msg.type === 'log') job.hooks.log(msg.message);
      else if (msg.type === 'progress') job.hooks.progress(msg.fraction);
      else {
        thread.job = undefined;
        this.idle.push(thread);
        if (msg.type === 'done') job.resolve(msg.result);
        else job.reject(new TaskError(msg.message, msg.stack));
        this.pump();
      }
    });
    // A crash (uncaught error, out of memory, process.exit in a kind) fails the task it ran.
    const dead = (message: string) => {
      if (!this.threads.delete(thread)) return;
      const i = this.idle.indexOf(thread);
      if (i >= 0) this.idle.splice(i, 1);
      const job = thread.job;
      thread.job = undefined;
      job?.reject(new TaskError(message));
      if (!this.closed) this.pump();
    };
    worker.on('error', (e) => dead(`worker thread crashed: ${e instanceof Error ? e.message : String(e)}`));
    worker.on('exit', (code) => dead(`worker thread exited with code ${code}`));
    return thread;
  }
}
