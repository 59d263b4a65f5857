/**
 * `attrib worker --redis URL --runs DIR [--plugin MODULE ...]`: serves the bullmq
 * executor's queue. Start any number, on any machines that share the runs folder.
 *
 * A job names a store hash and a unit index, nothing else: the worker reads stage.json
 * from its own `--runs`, and runs only kinds that the built-ins and its own `--plugin`
 * modules register. Nothing in the queue or the store makes it import a module or run
 * a command. Units run in `--concurrency` worker threads (pipeline/executors/local/),
 * so the main thread stays free to renew the jobs' locks however long a unit computes;
 * each unit is committed into the store atomically by performTask.
 *
 * SIGINT / SIGTERM: stop taking jobs, finish the running ones, exit 0. A second signal
 * exits at once; the running units go back on the queue when their locks expire.
 */
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Job } from 'bullmq';
import { InvalidArgumentError, type Command } from 'commander';
import { collect, type CommandExtension, type CommandTools } from '../../commands/types.ts';
import { loadPlugins } from '../../plugins.ts';
import type { StageOutcome } from '../../registry.ts';
import { Store } from '../../store.ts';
import { ThreadPool } from '../local/index.ts';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, parseUnitJob, type UnitProgress } from './jobs.ts';
import { checkRedisUrl, connect, ping, redact, redisUrl, REDIS_ENV } from './redis.ts';

const positive = (name: string, integer: boolean) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return n;
};
const name = (flag: string) => (value: string) => {
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) throw new InvalidArgumentError(`${flag} may hold letters, digits, _ . - only`);
  return value;
};

interface WorkerFlags {
  redis?: string;
  runs: string;
  plugin?: string[];
  concurrency?: number;
  queue: string;
  prefix: string;
  lockDuration: number;
  stalledInterval: number;
  maxStalled: number;
  maxIdle?: number;
  name?: string;
}

/** The `worker` command; its threads start from `tools.workerEntry` (bin/worker.js). */
export const workerCommand: CommandExtension = { define: defineWorker };

function defineWorker(program: Command, tools: CommandTools): void {
  program
    .command('worker')
    .description('serve the bullmq executor\'s queue: run units of stages whose store entries are in --runs (start any number, on any machines sharing it)')
    .option('--redis <url>', `redis://[:password@]host:port[/db] or rediss:// for TLS (default: $${REDIS_ENV}, which keeps a password out of ps)`)
    .addOption(tools.runsOption())
    .option('--plugin <module>', 'a plugin module registering stage kinds (repeatable): the same ones the config names', collect)
    .option('--concurrency <n>', 'units at once, each in its own worker thread (default: number of cores)', positive('--concurrency', true))
    .option('--queue <name>', 'queue name (the config\'s executor.bullmq.queue)', name('--queue'), DEFAULT_QUEUE)
    .option('--prefix <prefix>', 'Redis key prefix (the config\'s executor.bullmq.prefix)', name('--prefix'), DEFAULT_PREFIX)
    .option('--lock-duration <seconds>', 'a unit whose worker stops renewing its lock for this long goes back on the queue', positive('--lock-duration', false), 30)
    .option('--stalled-interval <seconds>', 'how often to look for units of dead workers', positive('--stalled-interval', false), 30)
    .option('--max-stalled <n>', 'a unit whose worker died more than this many times fails', positive('--max-stalled', true), 1)
    .option('--max-idle <seconds>', 'exit after this long without work (for workers that are themselves batch jobs)', positive('--max-idle', false))
    .option('--name <name>', 'worker name shown in Redis and logs (default: host:pid)')
    .action(async (o: WorkerFlags) => {
      const url = redisUrl(o.redis);
      if (!url) tools.fail(`attrib worker needs --redis URL (or ${REDIS_ENV} in the environment)`);
      const problem = checkRedisUrl(url);
      if (problem) tools.fail(problem, '--redis');
      const plugins = (o.plugin ?? []).map((p) => resolve(p));
      const failures = await loadPlugins(tools.registry, plugins);
      if (failures.length) tools.fail(failures.map((f) => `plugin ${f.plugin}: ${f.message}`).join('\n'), '--plugin');
      await serve(tools, url, plugins, o);
    });
}

async function serve(tools: CommandTools, url: string, plugins: string[], o: WorkerFlags): Promise<void> {
  const store = new Store(resolve(o.runs));
  const concurrency = o.concurrency ?? availableParallelism();
  const me = o.name ?? `${hostname()}:${process.pid}`;
  const { UnrecoverableError, Worker } = await import('bullmq'); // loaded when a worker serves, not when the CLI starts
  const conn = await connect(url, `attrib-worker-${me}`);
  try {
    await ping(conn, url);
  } catch (e) {
    conn.redis.disconnect();
    tools.fail(e instanceof Error ? e.message : String(e), '--redis');
  }

  const pool = new ThreadPool(tools.workerEntry, concurrency, { plugins }, store.runsDir);
  let active = 0;
  let lastBusy = Date.now();
  const say = (text: string) => tools.print(`[worker ${me}] ${text}`);

  const processor = async (job: Job): Promise<StageOutcome> => {
    const parsed = parseUnitJob(job.data, job.id);
    if (!parsed.ok) throw new UnrecoverableError(parsed.problem);
    const { hash, index } = parsed.job;
    const record = store.readStage(hash);
    if (!record) throw new Error(`no store entry ${hash.slice(0, 12)} in ${store.root} on worker ${me}: does it use the coordinator's runs folder (--runs)?`);
    if (!tools.registry.stage(record.kind)) {
      throw new Error(`stage kind "${record.kind}" is not registered in worker ${me}: start it with --plugin for the module that registers the kind`);
    }
    active++;
    const t0 = Date.now();
    say(`unit ${index} of ${record.kind} ${hash.slice(0, 12)}: started`);
    let fraction = 0;
    let lastSent = 0;
    const send = (p: UnitProgress) => void job.updateProgress(p as object).catch(() => {});
    try {
      const result = await pool.run(
        { step: 'unit', hash, index },
        {
          log: (message) => {
            void job.log(message).catch(() => {});
            send({ fraction, log: message });
          },
          progress: (f) => {
            fraction = f;
            const now = Date.now();
            if (now - lastSent < 500 && f < 1) return;
            lastSent = now;
            send({ fraction: f });
          },
        },
      );
      say(`unit ${index} of ${record.kind} ${hash.slice(0, 12)}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      return result.outcome ?? {};
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      say(`unit ${index} of ${record.kind} ${hash.slice(0, 12)}: failed (attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1}): ${message}`);
      throw new Error(message);
    } finally {
      active--;
      lastBusy = Date.now();
    }
  };

  const worker = new Worker(o.queue, processor, {
    connection: conn.redis,
    prefix: o.prefix,
    concurrency,
    name: me,
    lockDuration: Math.round(o.lockDuration * 1000),
    stalledInterval: Math.round(o.stalledInterval * 1000),
    maxStalledCount: o.maxStalled,
  });
  const reported = new Set<string>();
  worker.on('error', (e) => {
    // Connection trouble repeats while Redis is away: say each kind of error once.
    if (reported.has(e.message)) return;
    reported.add(e.message);
    tools.warn(`[worker ${me}] ${e.message}`);
  });
  await worker.waitUntilReady();
  say(`serving queue "${o.queue}" at ${redact(url)}: runs ${store.runsDir}, ${concurrency} thread(s), plugins: ${plugins.join(', ') || 'none'}`);

  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(idle);
      say(`${why}: finishing ${active} running unit(s)${why.startsWith('SIG') ? ' (again to abandon them)' : ''}`);
      void (async () => {
        await worker.close().catch(() => {});
        await pool.close();
        conn.redis.disconnect();
        say('stopped');
        done();
      })();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        tools.warn(`[worker ${me}] ${signal} again: exiting now; running units go back on the queue when their locks expire`);
        process.exit(130);
      }
      stop(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const idle = setInterval(() => {
      if (o.maxIdle !== undefined && active === 0 && Date.now() - lastBusy > o.maxIdle * 1000) stop(`idle for ${o.maxIdle}s`);
    }, 1000);
    idle.unref();
    worker.on('closed', () => stop('closed'));
  });
}
