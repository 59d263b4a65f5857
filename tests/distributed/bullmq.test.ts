/**
 * The bullmq executor against a real redis-server (.ci/services.sh): two `attrib worker`
 * processes, one killed with SIGKILL in the middle of a unit, and the run still
 * completes with every unit present once and the same bytes as a local run; a
 * coordinator stopped and started again queues nothing twice; a unit that fails N times
 * fails its stage with its message; a worker runs only what its own --plugin flags
 * register and rejects anything else a queue may hold.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ExecutionContext } from 'ava';
import { tmp } from '../engine/helpers.ts';
import { CONFIG, finished, PLUGIN, REDIS_URL, redisTest, runJson, sameStore, spawnCli, unitFolders, unitLog, waitUntil, type Proc } from './helpers.ts';

const MINUTE = 60_000;

/** A fresh queue name per test, and a teardown that kills what the test started and empties the queue. */
function setup(t: ExecutionContext) {
  const dir = tmp('attrib-bullmq-');
  const queue = `t-${randomBytes(4).toString('hex')}`;
  const procs: Proc[] = [];
  t.teardown(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    const redis = new Redis(REDIS_URL!, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    const q = new Queue(queue, { connection: redis, prefix: 'attrib' });
    await q.obliterate({ force: true }).catch(() => {});
    await q.close().catch(() => {});
    redis.disconnect();
  });
  const log = join(dir, 'units.log');
  const env = { ATTRIB_DIST_LOG: log, ATTRIB_REDIS_URL: REDIS_URL };
  const worker = async (runs: string, extra: string[] = []): Promise<Proc> => {
    const p = spawnCli(['worker', '--runs', runs, '--concurrency', '1', '--queue', queue, '--lock-duration', '2', '--stalled-interval', '1', ...extra], env);
    procs.push(p);
    await waitUntil('the worker to serve its queue', () => p.stdout.includes('serving queue') || p.child.exitCode !== null, 4 * MINUTE);
    t.is(p.child.exitCode, null, `the worker exited: ${p.stderr}`);
    return p;
  };
  const coordinator = (runs: string, set: string[] = []): Proc => {
    const p = spawnCli(['run', CONFIG, '--executor', 'bullmq', '--redis', REDIS_URL!, '--runs', runs, '--set', `executor.bullmq.queue=${queue}`, ...set.flatMap((s) => ['--set', s])], {
      ATTRIB_DIST_LOG: log,
    });
    procs.push(p);
    return p;
  };
  const connect = () => {
    const redis = new Redis(REDIS_URL!, { maxRetriesPerRequest: null });
    const q = new Queue(queue, { connection: redis, prefix: 'attrib' });
    t.teardown(async () => {
      await q.close().catch(() => {});
      redis.disconnect();
    });
    return q;
  };
  return { dir, queue, log, worker, coordinator, connect };
}

redisTest('two workers, one killed with SIGKILL mid-unit: the run completes, every unit once, bit-identical to a local run', async (t) => {
  const s = setup(t);
  const set = ['stages.noise.params.sleepMs=1500', 'stages.more.params.sleepMs=1500'];
  const local = join(s.dir, 'local');
  const dist = join(s.dir, 'dist');
  const ref = await finished(spawnCli(['run', CONFIG, '--runs', local, '--jobs', '2', ...set.flatMap((x) => ['--set', x])]), 4 * MINUTE);
  t.is(ref.code, 0, ref.stderr);

  const workers = [await s.worker(dist, ['--plugin', PLUGIN]), await s.worker(dist, ['--plugin', PLUGIN])];
  const coordinator = s.coordinator(dist, set);
  // Wait until a worker is in the middle of a unit (1.5 s each), then kill it.
  const pids = workers.map((w) => w.child.pid);
  await waitUntil('a worker to start a unit', () => unitLog(s.log).some((l) => l.what === 'start' && pids.includes(l.pid)), 4 * MINUTE);
  const victim = unitLog(s.log).find((l) => l.what === 'start' && pids.includes(l.pid))!;
  const [w1, w2] = victim.pid === pids[0] ? [workers[0]!, workers[1]!] : [workers[1]!, workers[0]!];
  w1.child.kill('SIGKILL');
  const r = await finished(coordinator, 4 * MINUTE);
  t.is(r.code, 0, r.stderr);

  const log = unitLog(s.log);
  t.false(log.some((l) => l.what === 'end' && l.pid === w1.child.pid && l.hash8 === victim.hash8 && l.index === victim.index), 'the killed worker did not finish the unit');
  t.true(log.some((l) => l.what === 'end' && l.pid === w2.child.pid && l.hash8 === victim.hash8 && l.index === victim.index), 'the other worker ran it again');

  for (const [stage, count] of [['noise', 6], ['more', 3]] as const) {
    const { units, leftovers } = unitFolders(dist, runJson(dist)[stage]!.hash);
    t.deepEqual(units, Array.from({ length: count }, (_, i) => String(i)), `${stage}: every unit exactly once`);
    t.deepEqual(leftovers, [], `${stage}: no staging leftovers`);
  }
  sameStore(t, local, dist);

  // The same progress as a local run, plus where the units went.
  t.regex(r.stderr, /^\[noise\] started 6 units$/m);
  t.regex(r.stderr, /^\[noise\] queued 6 units on bullmq queue "t-[0-9a-f]+" at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+$/m);
  t.regex(r.stderr, /^\[noise\] ran in [\d.]+s: sum=-?[\d.]+ units=6$/m);
  t.regex(r.stdout, /^total\s+ran\s/m);
  const password = new URL(REDIS_URL!).password;
  if (password) t.false((r.stderr + r.stdout + w2.stdout).includes(password), 'the password is never printed');
});

redisTest('a coordinator stopped and started again queues nothing twice; attrib status counts queued units', async (t) => {
  const s = setup(t);
  const dist = join(s.dir, 'dist');
  const set = ['stages.noise.params.sleepMs=1000'];
  // No worker yet: the first coordinator queues all 9 units, then dies.
  const c1 = s.coordinator(dist, set);
  await waitUntil('both stages to be queued', () => /\[noise\] queued 6 units/.test(c1.stderr) && /\[more\] queued 3 units/.test(c1.stderr), 4 * MINUTE);
  c1.child.kill('SIGKILL');
  await finished(c1, 4 * MINUTE);
  const q = s.connect();
  t.is((await q.getJobCounts('waiting')).waiting, 9);

  const status = await finished(spawnCli(['status', CONFIG, '--runs', dist, '--redis', REDIS_URL!, '--set', `executor.bullmq.queue=${s.queue}`, '--set', set[0]!]), 4 * MINUTE);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^noise\s+.*6 queued, 0 running \(bullmq\)/m);
  t.regex(status.stdout, /^more\s+.*3 queued, 0 running \(bullmq\)/m);

  // A worker works through the queue while no coordinator runs; a second coordinator
  // then finds finished units in the store and the rest still queued.
  await s.worker(dist, ['--plugin', PLUGIN]);
  await waitUntil('two units to finish', () => unitLog(s.log).filter((l) => l.what === 'end').length >= 2, 4 * MINUTE);
  const c2 = s.coordinator(dist, set);
  const r = await finished(c2, 4 * MINUTE);
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stderr, /\] queued \d+ units?/, 'the second coordinator queued nothing');

  const ends = unitLog(s.log).filter((l) => l.what === 'end');
  t.is(ends.length, 9, 'each of the 9 units ran once');
  t.is(new Set(ends.map((l) => `${l.hash8} ${l.index}`)).size, 9);
  t.is(runJson(dist).total!.status, 'ran');
});

redisTest('a unit that fails N times fails its stage with its message; workers run only what their own --plugin registers', async (t) => {
  const s = setup(t);
  const dist = join(s.dir, 'dist');
  const w = await s.worker(dist, ['--plugin', PLUGIN]);
  const r = await finished(s.coordinator(dist, ['stages.noise.params.failAt=2', 'executor.bullmq.attempts=2']), 4 * MINUTE);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^\[noise\] FAILED: unit 2 failed: dist failure at unit 2$/m);
  t.regex(r.stderr, /^\[total\] blocked: noise failed$/m);
  t.regex(r.stderr, /^\[more\] ran in/m);
  const noise = runJson(dist).noise!;
  t.is(noise.error, 'unit 2 failed: dist failure at unit 2');
  t.is(unitLog(s.log).filter((l) => l.what === 'start' && l.hash8 === noise.hash.slice(0, 8) && l.index === 2).length, 2, 'tried attempts=2 times');

  // Whatever a queue holds, a worker imports only its own --plugin modules and runs only
  // {hash, index} jobs of entries in its own runs folder.
  const marker = join(s.dir, 'evil-ran');
  const evil = join(s.dir, 'evil.ts');
  writeFileSync(evil, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\nexport default function () {}\n`);
  // A store entry whose stage.json names that module as its plugin.
  const forged = 'f'.repeat(64);
  mkdirSync(join(dist, 'store', forged), { recursive: true });
  writeFileSync(join(dist, 'store', forged, 'stage.json'), JSON.stringify({ hash: forged, kind: 'evil', version: '1', params: {}, inputs: {}, seed: 0, backend: 'auto', plugins: [evil], units: 1 }));
  w.child.kill('SIGTERM');
  const stopped = await finished(w, 4 * MINUTE);
  t.is(stopped.code, 0, stopped.stderr);
  t.regex(stopped.stdout, /SIGTERM: finishing 0 running unit\(s\)/);
  const bare = await s.worker(dist); // no --plugin: only the built-in kinds
  const q = s.connect();
  const jobs = [
    { id: `${noise.hash}-0`, data: { hash: noise.hash, index: 0 }, why: /stage kind "dnoise" is not registered in worker .*: start it with --plugin/ },
    { id: `${forged}-0`, data: { hash: forged, index: 0 }, why: /stage kind "evil" is not registered in worker/ },
    { id: `${forged}-1`, data: { hash: forged, index: 1, plugins: [evil] }, why: /not an attrib unit job: .*plugins|not an attrib unit job/ },
    { id: 'run-this', data: { command: `touch ${marker}` }, why: /not an attrib unit job/ },
    { id: `${'0'.repeat(64)}-0`, data: { hash: '0'.repeat(64), index: 0 }, why: /no store entry 000000000000 in .* does it use the coordinator's runs folder/ },
  ];
  for (const j of jobs) {
    await (await q.getJob(j.id))?.remove(); // noise's unit 0 is there, completed by the run above
    await q.add('unit', j.data, { jobId: j.id, attempts: 1 });
  }
  for (const j of jobs) {
    await waitUntil(`job ${j.id} to fail`, async () => (await q.getJobState(j.id)) === 'failed', 4 * MINUTE);
    t.regex((await q.getJob(j.id))!.failedReason, j.why);
  }
  t.false(existsSync(marker), 'nothing from the queue or the store was imported or run');
  t.true(bare.child.exitCode === null, 'the worker keeps serving');
});
