/**
 * The config's `executor:` section holds one block per distributed executor, so one
 * config runs unchanged with either (and locally, where the section is ignored):
 *
 *   executor:
 *     bullmq: {attempts: 5}
 *     slurm: {partition: gpu, gres: "gpu:1", time: "02:00:00"}
 *
 * The chosen executor validates its own block; the other block is left alone. Anything
 * else under `executor:` is an unknown key.
 */
import { z } from 'zod';
import type { Executor } from '../executor.ts';

export const SECTIONS = ['bullmq', 'slurm'] as const;

export function executorSection<S extends z.ZodType>(name: (typeof SECTIONS)[number], block: S): z.ZodType<z.output<S>> {
  const shape: Record<string, z.ZodType> = {};
  for (const n of SECTIONS) shape[n] = n === name ? block.optional() : z.unknown().optional();
  return z
    .strictObject(shape)
    .optional()
    .transform((s) => (s?.[name] ?? block.parse({})) as z.output<S>); // absent: the block's defaults
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

/** Extra things a distributed executor's create() reads; cli.ts passes them. */
export interface DistributedEnv {
  cli?: CommandLine;
}

/** A user's mistake found while creating an executor (no --redis, no sbatch): exit 2. */
export class ExecutorSetupError extends Error {}
