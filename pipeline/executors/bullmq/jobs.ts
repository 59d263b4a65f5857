/**
 * What travels through the queue: a job names a store hash and a unit index, nothing
 * else. Its id is derived from both, so a unit is never queued twice; its runs folder,
 * its stage kind and the plugins that register it are the worker's own business (its
 * command line), never the queue's.
 */
import { z } from 'zod';
import { isStageHash } from '../../hash.ts';
import type { StageHash } from '../../registry.ts';

export const JOB_NAME = 'unit';
export const DEFAULT_QUEUE = 'attrib';
/** bullmq's key prefix: every key of the queue is `<prefix>:<queue>:...`. */
export const DEFAULT_PREFIX = 'attrib';

export interface UnitJob {
  hash: StageHash;
  index: number;
}

/** `<hash>-<index>` (bullmq ids may not contain ':' nor be integers). */
export function jobId(hash: StageHash, index: number): string {
  return `${hash}-${index}`;
}

const jobData = z.strictObject({
  hash: z.string().refine(isStageHash, 'expected a stage hash (64 hex digits)'),
  index: z.number().int().nonnegative(),
});

/** Validates a job's data as received from the queue; the reason when it is not a unit job. */
export function parseUnitJob(data: unknown, id: string | undefined): { ok: true; job: UnitJob } | { ok: false; problem: string } {
  const parsed = jobData.safeParse(data);
  if (!parsed.success) return { ok: false, problem: `not an attrib unit job: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'data'}: ${i.message}`).join('; ')}` };
  const job = { hash: parsed.data.hash as StageHash, index: parsed.data.index };
  if (id !== undefined && id !== jobId(job.hash, job.index)) return { ok: false, problem: `job id ${id} does not match its data (${jobId(job.hash, job.index)})` };
  return { ok: true, job };
}

/** Names for queues and prefixes: they end up in Redis keys. */
export const queueName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -');

/** What a worker reports while it runs a unit (the job's progress value). */
export interface UnitProgress {
  fraction?: number;
  log?: string;
}
