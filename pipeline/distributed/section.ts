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

export const SECTIONS = ['bullmq', 'slurm'] as const;

export function executorSection<S extends z.ZodType>(name: (typeof SECTIONS)[number], block: S): z.ZodType<z.output<S>> {
  const shape: Record<string, z.ZodType> = {};
  for (const n of SECTIONS) shape[n] = n === name ? block.optional() : z.unknown().optional();
  return z
    .strictObject(shape)
    .optional()
    .transform((s) => (s?.[name] ?? block.parse({})) as z.output<S>); // absent: the block's defaults
}
