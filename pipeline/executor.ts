/**
 * Executors: where a stage's tasks (count, units, run, combine) are computed. The
 * scheduler only hands tasks to an Executor and awaits them, so swapping the local
 * thread pool for a queue or a cluster changes nothing else.
 *
 * Adding one = a folder pipeline/executors/<name>/ whose index.ts exports its
 * ExecutorFactory (with its config section, the commands it adds to the CLI and what
 * `attrib status` asks it), plus one line in pipeline/executors/index.ts, the only list
 * of them. A plugin may also add one with `registry.register(EXECUTORS, name, factory)`.
 * Because a task is described
 * by (runs dir, hash, step, index) and everything else is in the store, a remote worker
 * only needs the same runs/ folder and `performTask` (see pipeline/task.ts).
 */
import type { z } from 'zod';
import type { CommandExtension } from './commands/types.ts';
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

/** Executors plugins add: `registry.register(EXECUTORS, name, factory)`. */
export const EXECUTORS = extensionPoint<ExecutorFactory>('executor');

export interface ExecutorFactory<O = any> {
  name: string;
  description: string;
  /**
   * Schema of this executor's own block of the config's `executor:` section
   * (`executor.<name>:`; absent, its defaults). The config may hold one block per
   * executor, so it runs unchanged with any of them: the chosen one checks its block and
   * leaves the others alone (pipeline/executors/index.ts builds `options` from this).
   */
  section?: z.ZodType<O>;
  /**
   * Schema of the whole `executor:` section. findExecutor derives it from `section`; an
   * executor without a `section` may set it to read the section as it likes.
   */
  options?: z.ZodType<O>;
  create(env: ExecutorEnv<O>): Executor;
  /** Commands it adds to the CLI (e.g. `attrib worker`, what its remote jobs run). */
  commands?: readonly CommandExtension[];
  /** What `attrib status` asks it: units of unfinished stages queued or running there. */
  status?: StatusProbe;
}

/** What `attrib status` hands an executor's status probe. */
export interface StatusQuery {
  store: Store;
  /** Stages not finished in the store. */
  hashes: readonly StageHash[];
  /** The config's block for this executor (`executor.<name>`), as written. */
  block: unknown;
  /** What the command line said (`--redis`). */
  cli: CommandLine;
}

export interface StatusAnswer {
  /** Units queued / running, per stage (stages with neither may be left out). */
  units: Map<StageHash, { queued: number; running: number }>;
  /** Why the executor's service could not be asked: a note for the user, not an error. */
  notes: string[];
}

/** Bounded in time: a service that does not answer becomes a note. */
export type StatusProbe = (query: StatusQuery) => Promise<StatusAnswer>;

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
 * executor has no default limit) and `--redis` as given (the bullmq executor falls back
 * to its environment variable).
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
