/**
 * For `attrib status`: units of unfinished stages that are queued or running in SLURM
 * (asked with squeue when the slurm executor has submitted jobs for them: their
 * folders exist under the task logs) or on a bullmq queue (when --redis /
 * ATTRIB_REDIS_URL is given). Bounded in time; a service that does not answer becomes a
 * note, not an error.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bullmqOptions } from '../executors/bullmq.ts';
import type { StageHash } from '../registry.ts';
import type { Store } from '../store.ts';
import { jobId } from './jobs.ts';
import { connect, loadBullmq, ping, redact } from './redis.ts';
import { onPath, queuedTasks } from './slurm.ts';

export interface RemoteUnits {
  queued: number;
  running: number;
  where: 'slurm' | 'bullmq';
}

export interface RemoteStates {
  units: Map<StageHash, RemoteUnits[]>;
  /** Why a service could not be asked. */
  notes: string[];
}

export async function remoteUnitStates(store: Store, hashes: readonly StageHash[], opts: { redis?: string; executor?: unknown }): Promise<RemoteStates> {
  const units = new Map<StageHash, RemoteUnits[]>();
  const notes: string[] = [];
  const add = (hash: StageHash, r: RemoteUnits) => {
    if (r.queued || r.running) units.set(hash, [...(units.get(hash) ?? []), r]);
  };
  const wanted = new Set(hashes);

  const logs = (opts.executor as { slurm?: { logs?: unknown } } | undefined)?.slurm?.logs;
  const logsDir = typeof logs === 'string' ? resolve(logs) : join(store.runsDir, 'slurm-logs');
  if (hashes.some((h) => existsSync(join(logsDir, h))) && onPath('squeue')) {
    try {
      const counts = new Map<StageHash, RemoteUnits>();
      for (const t of await queuedTasks(store.runsDir, 15_000)) {
        if (!wanted.has(t.hash) || t.role !== 'units') continue;
        const c = counts.get(t.hash) ?? { queued: 0, running: 0, where: 'slurm' as const };
        if (t.state === 'PENDING') c.queued++;
        else c.running++;
        counts.set(t.hash, c);
      }
      for (const [hash, c] of counts) add(hash, c);
    } catch (e) {
      notes.push(`SLURM: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  if (opts.redis) {
    const block = (opts.executor as { bullmq?: unknown } | undefined)?.bullmq;
    const parsed = bullmqOptions.safeParse(block ?? {});
    const o = parsed.success ? parsed.data : bullmqOptions.parse({});
    const conn = await connect(opts.redis, 'attrib-status');
    const queue = new (await loadBullmq()).Queue(o.queue, { connection: conn.redis, prefix: o.prefix });
    queue.on('error', () => {});
    try {
      await ping(conn, opts.redis, 10_000);
      for (const hash of wanted) {
        const count = store.readStage(hash)?.units;
        if (!count) continue;
        const done = new Set(store.finishedUnits(hash));
        const c: RemoteUnits = { queued: 0, running: 0, where: 'bullmq' };
        const ids = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
        const states = await Promise.all(ids.map((i) => queue.getJobState(jobId(hash, i))));
        for (const s of states) {
          if (s === 'active') c.running++;
          else if (s === 'waiting' || s === 'delayed' || s === 'prioritized' || s === 'waiting-children') c.queued++;
        }
        add(hash, c);
      }
    } catch (e) {
      notes.push(`bullmq at ${redact(opts.redis)}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await queue.close().catch(() => {});
      conn.redis.disconnect();
    }
  }
  return { units, notes };
}

/** ", 3 queued, 1 running (slurm)" or "". */
export function describeRemote(states: readonly RemoteUnits[] | undefined): string {
  return (states ?? []).map((r) => `, ${r.queued} queued, ${r.running} running (${r.where})`).join('');
}
