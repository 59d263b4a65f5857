/**
 * What `attrib status` asks the bullmq executor (when --redis / ATTRIB_REDIS_URL is
 * given): the units of unfinished stages that wait or run on the queue. Bounded in time;
 * a Redis that does not answer becomes a note, not an error.
 */
import type { StatusAnswer, StatusQuery } from '../../executor.ts';
import { bullmqOptions } from './executor.ts';
import { jobId } from './jobs.ts';
import { connect, ping, redact, redisUrl } from './redis.ts';

export async function bullmqStatus({ store, hashes, block, cli }: StatusQuery): Promise<StatusAnswer> {
  const units: StatusAnswer['units'] = new Map();
  const notes: string[] = [];
  const url = redisUrl(cli.redis);
  if (!url) return { units, notes };
  const parsed = bullmqOptions.safeParse(block ?? {});
  const o = parsed.success ? parsed.data : bullmqOptions.parse({});
  const { Queue } = await import('bullmq'); // loaded only when there is a Redis to ask
  const conn = await connect(url, 'attrib-status');
  const queue = new Queue(o.queue, { connection: conn.redis, prefix: o.prefix });
  queue.on('error', () => {});
  try {
    await ping(conn, url, 10_000);
    for (const hash of new Set(hashes)) {
      const count = store.readStage(hash)?.units;
      if (!count) continue;
      const done = new Set(store.finishedUnits(hash));
      const c = { queued: 0, running: 0 };
      const ids = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
      const states = await Promise.all(ids.map((i) => queue.getJobState(jobId(hash, i))));
      for (const s of states) {
        if (s === 'active') c.running++;
        else if (s === 'waiting' || s === 'delayed' || s === 'prioritized' || s === 'waiting-children') c.queued++;
      }
      units.set(hash, c);
    }
  } catch (e) {
    notes.push(`bullmq at ${redact(url)}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await queue.close().catch(() => {});
    conn.redis.disconnect();
  }
  return { units, notes };
}
