/**
 * Redis connections for the bullmq executor and `attrib worker`. The URL comes from
 * `--redis` or ATTRIB_REDIS_URL (prefer the variable when it holds a password: other
 * users of a machine can read command lines). `rediss://` connects over TLS.
 */
import type { Redis } from 'ioredis';

export const REDIS_ENV = 'ATTRIB_REDIS_URL';

/** The URL from the flag or the environment, or undefined. */
export function redisUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = flag ?? env[REDIS_ENV];
  return url && url.trim() ? url.trim() : undefined;
}

/** Checks the shape of a URL (`redis://[user:password@]host[:port][/db]`, or `rediss://`); returns a problem or undefined. */
export function checkRedisUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${redact(url)}" is not a URL (expected redis://[:password@]host:port[/db] or rediss://...)`;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `"${redact(url)}" is not a redis:// or rediss:// URL`;
  if (!parsed.hostname) return `"${redact(url)}" names no host`;
  return undefined;
}

/** The URL with its password replaced by ***, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export interface Connection {
  redis: Redis;
  /** The last connection error, for messages. */
  lastError(): string | undefined;
}

/**
 * A connection as bullmq wants it (`maxRetriesPerRequest: null`: commands wait for a
 * reconnect instead of failing). Errors are kept for messages, not printed. ioredis
 * loads here, on first use: commands that never talk to Redis start without it.
 */
export async function connect(url: string, name: string): Promise<Connection> {
  const { Redis } = await import('ioredis');
  let last: string | undefined;
  const redis = new Redis(url, { maxRetriesPerRequest: null, connectionName: name, connectTimeout: 10_000 });
  redis.on('error', (e: Error) => {
    last = e.message;
  });
  return { redis, lastError: () => last };
}

/** Resolves when the server answers PING, rejects with a readable message after `ms`. */
export async function ping(conn: Connection, url: string, ms = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cannot reach redis at ${redact(url)} within ${ms / 1000}s${conn.lastError() ? ` (${conn.lastError()})` : ''}`)), ms);
  });
  try {
    await Promise.race([conn.redis.ping(), timeout]);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(message.startsWith('cannot reach redis') ? message : `redis at ${redact(url)}: ${message}`);
  } finally {
    clearTimeout(timer);
  }
}
