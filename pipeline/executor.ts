/**
 * Executors: where a stage's tasks (count, units, run, combine) are computed. The
 * scheduler only hands tasks to an Executor and awaits them, so swapping the local
 * thread pool for a queue or a cluster changes nothing else.
 *
 * Adding one (e.g. bullmq, slurm) = a new file in pipeline/executors/ exporting an
 * ExecutorFactory, plus one line in pipeline/executors/index.ts. A plugin may also add
 * one with `registry.register('executor', name, factory)`. Because a task is described
 * by (runs dir, hash, step, index) and everything else is in the store, a remote worker
 * only needs the same runs/ folder and `performTask` (see pipeline/task.ts).
 */
import type { z } from 'zod';
import type { Registry } from './registry.ts';
import type { Store } from './store.ts';
import type { Task, TaskHooks, TaskResult } from './task.ts';

export interface Executor {
  readonly name: string;
  /** Runs one task; rejects with the task's error (its message is what the user sees). */
  run(task: Task, hooks: TaskHooks): Promise<TaskResult>;
  /** Releases workers and connections; called once when a run ends. */
  close(): Promise<void>;
}

export interface ExecutorEnv<O = unknown> {
  registry: Registry;
  store: Store;
  /** Tasks run at most this many at once (the scheduler also limits to it). */
  jobs: number;
  /** Plugin modules (absolute paths) that workers must load, besides the built-ins. */
  plugins: string[];
  /** Module that a worker thread starts from (bin/worker.js): registers built-ins, serves tasks. */
  workerEntry?: URL;
  /** The config's `executor:` section, parsed by `options`. */
  options: O;
}

export interface ExecutorFactory<O = any> {
  name: string;
  description: string;
  /** Schema of the config's `executor:` section for this executor. */
  options?: z.ZodType<O>;
  create(env: ExecutorEnv<O>): Executor;
}

/** Raised for a task's own failure (a unit threw, a thread crashed). */
export class TaskError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}
