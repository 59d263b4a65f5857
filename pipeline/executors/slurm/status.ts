/**
 * What `attrib status` asks the slurm executor: the units of unfinished stages queued or
 * running in SLURM, asked with squeue when this executor has submitted jobs for them
 * (their folders exist under the task logs). Bounded in time; an squeue that fails
 * becomes a note, not an error.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StatusAnswer, StatusQuery } from '../../executor.ts';
import type { StageHash } from '../../registry.ts';
import { onPath, queuedTasks } from './jobs.ts';

export async function slurmStatus({ store, hashes, block }: StatusQuery): Promise<StatusAnswer> {
  const units: StatusAnswer['units'] = new Map();
  const notes: string[] = [];
  const logs = (block as { logs?: unknown } | undefined)?.logs;
  const logsDir = typeof logs === 'string' ? resolve(logs) : join(store.runsDir, 'slurm-logs');
  if (!hashes.some((h) => existsSync(join(logsDir, h))) || !onPath('squeue')) return { units, notes };
  const wanted = new Set<StageHash>(hashes);
  try {
    const tasks = await queuedTasks(store.runsDir, 15_000);
    for (const t of tasks) {
      if (!wanted.has(t.hash) || t.role !== 'units') continue;
      const c = units.get(t.hash) ?? { queued: 0, running: 0 };
      if (t.state === 'PENDING') c.queued++;
      else c.running++;
      units.set(t.hash, c);
    }
  } catch (e) {
    notes.push(`SLURM: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { units, notes };
}
