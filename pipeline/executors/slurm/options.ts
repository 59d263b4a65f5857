/**
 * The slurm executor's block of the config's `executor:` section (`executor.slurm:`),
 * the sbatch arguments it makes of them, and the spec a count job gets on its command
 * line.
 */
import { z } from 'zod';

/** What a stage's jobs ask SLURM for; `kinds:` overrides these keys per stage kind. */
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
  /** Times an array task tries its unit before it fails (and with it, its stage). */
  attempts: z.number().int().min(1).default(3),
  /** Seconds between the coordinator's squeue polls. */
  poll: z.number().positive().default(5),
  /** Seconds a stage's finish job may be out of squeue before its manifest shows in the store (a shared filesystem can lag). */
  settle: z.number().min(0).default(10),
  /** Folder for the tasks' output, on the shared filesystem (default: <runs>/slurm-logs; relative to the working directory). */
  logs: z.string().min(1).optional(),
});
export type SlurmOptions = z.output<typeof slurmOptions>;

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

/**
 * What a count job needs to submit its stage's array, written into its own command line
 * by the coordinator (so sbatch holds it; nothing is read from the runs folder).
 */
export const arraySpec = z.strictObject({
  /** The attrib command on the nodes. */
  command: z.array(z.string()).min(1),
  plugins: z.array(z.string()),
  /** The array's `%` limit (--jobs), if any. */
  limit: z.number().int().positive().optional(),
  /** Resource arguments for sbatch (sbatchResourceArgs). */
  sbatch: z.array(z.string()),
  setup: z.array(z.string()),
  /** The stage's log folder. */
  logs: z.string(),
  attempts: z.number().int().min(1),
});
export type ArraySpec = z.output<typeof arraySpec>;
