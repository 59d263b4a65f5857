/**
 * The executor list: the one place that names the built-in executors. Each is a folder
 * here whose index.ts exports its ExecutorFactory: how it is created, its block of the
 * config's `executor:` section, the commands it adds to the CLI, and what `attrib
 * status` asks it. A new executor is a new folder plus one line below; plugins add
 * theirs with `registry.register(EXECUTORS, name, factory)`. Everything that lists
 * executors (the `--executor` help, the `executor:` section's keys, the CLI's commands,
 * `attrib status`, the JSON Schema) asks knownExecutors.
 */
import { z } from 'zod';
import { EXECUTORS, type ExecutorFactory } from '../executor.ts';
import type { Registry } from '../registry.ts';
import { bullmqExecutor } from './bullmq/index.ts';
import { inlineExecutor } from './inline/index.ts';
import { localExecutor } from './local/index.ts';
import { slurmExecutor } from './slurm/index.ts';

export const executorFactories: readonly ExecutorFactory[] = [localExecutor, inlineExecutor, bullmqExecutor, slurmExecutor];

/** Built-in executors, then ones plugins registered under 'executor', each with its `options` (the whole `executor:` section). */
export function knownExecutors(registry: Registry): ExecutorFactory[] {
  const all = [...executorFactories, ...registry.extensions(EXECUTORS).values()];
  const sections = all.filter((f) => f.section).map((f) => f.name);
  return all.map((f) => (f.section ? { ...f, options: wholeSection(f.name, f.section, sections) } : f));
}

export function findExecutor(name: string, registry: Registry): ExecutorFactory | undefined {
  return knownExecutors(registry).find((f) => f.name === name);
}

export function executorNames(registry: Registry): string[] {
  return knownExecutors(registry).map((f) => f.name);
}

/**
 * The `executor:` section as `name` reads it: one block per executor that has one, so
 * one config runs unchanged with any of them (and locally, where the section is
 * ignored), e.g.
 *
 *   executor:
 *     bullmq: {attempts: 5}
 *     slurm: {partition: gpu, gres: "gpu:1", time: "02:00:00"}
 *
 * `name` validates its own block (absent: the block's defaults); the others are left
 * alone; anything else under `executor:` is an unknown key.
 */
function wholeSection<S extends z.ZodType>(name: string, block: S, sections: readonly string[]): z.ZodType<z.output<S>> {
  const shape: Record<string, z.ZodType> = {};
  for (const n of sections) shape[n] = n === name ? block.optional() : z.unknown().optional();
  return z
    .strictObject(shape)
    .optional()
    .transform((s) => (s?.[name] ?? block.parse({})) as z.output<S>);
}
