/**
 * Executors: where a stage's tasks (count, units, run, combine) are computed. The
 * scheduler only hands tasks to an Executor and awaits them, so swapping the local
 * thread pool for a queue or a cluster changes nothing else.
 *
 * Adding one (e.g. bullmq, slurm) = a new file in pipeline/executors/ exporting an
 * ExecutorFactory, plus one line in pipeline/executors/index.ts. A plugin may also add
 * one with `registry.register(EXECUTORS, name, factory)`. Because a task is described
 * by (runs dir, hash, step, index) and everything else is in the store, a remote worker
 * only needs the same runs/ folder and `performTask` (see pipeline/task.ts).
 */
import type { z } from 'zod';
import { extensionPoint, type Registry, type StageHash } from './registry.ts';
import type { Manifest, Store } from './store.ts';
import type { Task, TaskHooks, TaskResult } from './task.ts';

export interface Executor {
  readonly name: string;
  /** Runs one task; rejects with the task's error (its message is what the user sees). */
  run(task: Task, hooks: TaskHooks): Promise<TaskResult>;
  /** Releases workers and connections; called once when a run ends. */
  close(): Promise<void>;
}

/**
 * An executor that runs whole stages itself instead of being handed their tasks one by
 * one: `execute` gives it every stage the run must compute, upstream first, and then
 * awaits each stage's manifest. SLURM does this: the stages become jobs joined by
 * `afterok` dependencies, submitted up front, so the cluster runs the DAG on its own.
 */
export interface StageRunner {
  /** Called once, before any stage is awaited; every listed entry is locked and has its stage.json. */
  submitStages(stages: readonly StageToRun[], log: (hash: StageHash, message: string) => void): Promise<void>;
  /** Resolves with the manifest once the stage has finished; rejects with its error. */
  awaitStage(hash: StageHash, hooks: StageHooks): Promise<Manifest>;
}

export interface StageToRun {
  hash: StageHash;
  /** The stage's name as people see it. */
  label: string;
  kind: string;
  hasUnits: boolean;
  /** Inputs that this run computes too (the others are finished): the stage waits for them. */
  upstream: StageHash[];
  /** Re-run even if work for it is already under way (`--force`). */
  forced: boolean;
}

/** What a stage run elsewhere tells the person watching. */
export interface StageHooks {
  log(message: string): void;
  /** The stage began (its units are counted, when it has units). */
  started(units?: { done: number; total: number }): void;
  progress(done: number, total: number): void;
}

export function runsStages(executor: Executor): executor is Executor & StageRunner {
  const e = executor as Partial<StageRunner>;
  return typeof e.submitStages === 'function' && typeof e.awaitStage === 'function';
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
  /** What the command line said, for distributed executors. */
  cli?: CommandLine;
}

export interface ExecutorFactory<O = any> {
  name: string;
  description: string;
  /** Schema of the config's `executor:` section for this executor. */
  options?: z.ZodType<O>;
  create(env: ExecutorEnv<O>): Executor;
}

/** Executors plugins add: `registry.register(EXECUTORS, name, factory)`. */
export const EXECUTORS = extensionPoint<ExecutorFactory>('executor');

/** Raised for a task's own failure (a unit threw, a thread crashed). */
export class TaskError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * What the command line said, beyond the ExecutorEnv: `--jobs` as given (a cluster
 * executor has no default limit) and `--redis`.
 */
export interface CommandLine {
  jobs?: number;
  redis?: string;
}

/**
 * An executor that takes every ready unit at once (a queue, a cluster) and applies its
 * own limit there, instead of the scheduler's `--jobs` tasks in flight.
 */
export interface TakesEveryUnit {
  readonly inFlight: number;
}

/** How many tasks the scheduler may hand `executor` at once. */
export function inFlight(executor: Executor, jobs: number): number {
  const n = (executor as Partial<TakesEveryUnit>).inFlight;
  return typeof n === 'number' && n > 0 ? n : jobs;
}

/** A user's mistake found while creating an executor (no --redis, no sbatch): exit 2. */
export class ExecutorSetupError extends Error {}
