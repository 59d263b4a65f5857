/**
 * The slurm executor against a real single-node SLURM (.ci/services.sh: munged,
 * slurmctld, slurmd, no accounting). The whole DAG is submitted up front as jobs joined
 * by afterok dependencies; each stage's units run as a job array with the `%` limit from
 * --jobs; `attrib status` shows queued / running units; the store ends up byte for byte
 * what a local run writes. A failing unit is tried `attempts` times, then SLURM cancels
 * everything downstream and the stage fails with the unit's message. A coordinator
 * killed mid-run is started again and waits for the jobs already in SLURM.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from '../engine/helpers.ts';
import { command } from '../../pipeline/executors/slurm/jobs.ts';
import { CONFIG, finished, runJson, sameStore, SLURM_BIN, slurmPath, slurmTest, spawnCli, unitFolders, unitLog, waitUntil } from './helpers.ts';

const MINUTE = 60_000;
const scontrol = (...args: string[]) => command(join(SLURM_BIN!, 'scontrol'), args, 30_000);

slurmTest('the DAG is submitted up front with afterok dependencies; units run as arrays (%--jobs); results are bit-identical to a local run', async (t) => {
  const dir = tmp('attrib-slurm-');
  const local = join(dir, 'local');
  const dist = join(dir, 'dist');
  const log = join(dir, 'units.log');
  const set = ['--set', 'stages.noise.params.sleepMs=1500']; // long enough to see the array queued and running
  const env = { PATH: slurmPath(), ATTRIB_DIST_LOG: log };

  const coordinator = spawnCli(['run', CONFIG, '--executor', 'slurm', '--jobs', '2', '--runs', dist, ...set], env);
  t.teardown(() => void (coordinator.child.exitCode === null && coordinator.child.kill('SIGKILL')));
  // Every stage is submitted before any has run, each waiting on its inputs' finish jobs.
  await waitUntil('the last stage to be submitted', () => /^\[total\] submitted SLURM job \d+/m.test(coordinator.stderr), 4 * MINUTE);
  const base = /^\[base\] submitted SLURM job (\d+);/m.exec(coordinator.stderr)?.[1];
  const noise = /^\[noise\] submitted SLURM jobs: count (\d+) \(after (\d+)\), finish (\d+) \(after the unit array that \1 submits\)/m.exec(coordinator.stderr);
  const more = /^\[more\] submitted SLURM jobs: count (\d+) \(after (\d+)\), finish (\d+)/m.exec(coordinator.stderr);
  const total = /^\[total\] submitted SLURM job (\d+) \(after (\d+), (\d+)\)/m.exec(coordinator.stderr);
  t.truthy(base && noise && more && total, coordinator.stderr);
  t.is(noise![2], base!);
  t.is(more![2], base!);
  t.deepEqual([total![2], total![3]], [noise![3], more![3]]);
  const job = await scontrol('show', 'job', total![1]!);
  // Nothing of noise has run yet, so total is still waiting on both finish jobs.
  t.regex(job.stdout, /JobState=PENDING/);
  t.regex(job.stdout, new RegExp(`Dependency=afterok:${noise![3]}.*:${more![3]}`));

  // The noise count job submits the array, with the % limit, and points the finish job at it.
  await waitUntil('the noise array to run', () => /^\[noise\] SLURM job array \d+: \d+ task\(s\) to run, at most 2 at once$/m.test(coordinator.stderr), 4 * MINUTE);
  const arrayId = /^\[noise\] SLURM job array (\d+):/m.exec(coordinator.stderr)![1]!;
  const array = await scontrol('show', 'job', arrayId);
  t.regex(array.stdout, /ArrayTaskThrottle=2/);
  t.regex(array.stdout, /JobName=attrib-[0-9a-f]{64}\b/);
  const finish = await scontrol('show', 'job', noise![3]!);
  // Six units of 1.5 s, two at a time: the finish job still waits for the array.
  t.regex(finish.stdout, /JobState=PENDING/);
  t.regex(finish.stdout, new RegExp(`Dependency=afterok:${arrayId}_\\*`));
  const status = await finished(spawnCli(['status', CONFIG, '--runs', dist, ...set], env), 4 * MINUTE);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^noise\s+running.*, \d+ queued, \d+ running \(slurm\)/m);

  const r = await finished(coordinator, 4 * MINUTE);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^\[noise\] started 6 units$/m);
  t.regex(r.stderr, /^\[noise\] ran in [\d.]+s: sum=-?[\d.]+ units=6$/m);
  // In a fresh store the count job submits every unit. What it submitted comes from its own
  // record, not from squeue or the store at the next poll: a unit that finished before the
  // coordinator looked is still this run's, not "done earlier" (seen once on a warm cluster).
  t.regex(r.stderr, /^\[more\] SLURM job array \d+: 3 task\(s\) to run, at most 2 at once$/m);
  t.regex(r.stderr, /^\[more\] started 3 units$/m);
  for (const [stage, count] of [['noise', 6], ['more', 3]] as const) {
    const { units, leftovers } = unitFolders(dist, runJson(dist)[stage]!.hash);
    t.deepEqual(units, Array.from({ length: count }, (_, i) => String(i)));
    t.deepEqual(leftovers, []);
  }
  t.is(unitLog(log).filter((l) => l.what === 'end').length, 9, 'each unit ran once');
  // metrics.seconds is compute, summed from the units: six units of 1.5 s at least.
  const manifest = JSON.parse(readFileSync(join(dist, 'store', runJson(dist).noise!.hash, 'manifest.json'), 'utf8'));
  t.true(manifest.metrics.seconds >= 9, `noise seconds ${manifest.metrics.seconds}`);

  const ref = await finished(spawnCli(['run', CONFIG, '--runs', local, '--jobs', '2', ...set]), 4 * MINUTE);
  t.is(ref.code, 0, ref.stderr);
  sameStore(t, local, dist);
});

slurmTest('a failing unit is tried `attempts` times, SLURM cancels what is downstream, and the stage fails with the unit\'s message', async (t) => {
  const dir = tmp('attrib-slurm-');
  const dist = join(dir, 'dist');
  const log = join(dir, 'units.log');
  const r = await finished(
    spawnCli(['run', CONFIG, '--executor', 'slurm', '--runs', dist, '--set', 'stages.more.params.failAt=1', '--set', 'stages.noise.params.count=2'], { PATH: slurmPath(), ATTRIB_DIST_LOG: log }),
    4 * MINUTE,
  );
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^\[more\] FAILED: unit 1 failed: dist failure at unit 1$/m);
  t.regex(r.stderr, /^\[total\] blocked: more failed$/m);
  const more = runJson(dist).more!;
  t.is(more.error, 'unit 1 failed: dist failure at unit 1');
  t.is(unitLog(log).filter((l) => l.what === 'start' && l.hash8 === more.hash.slice(0, 8) && l.index === 1).length, 2, 'tried twice (attempts: 2)');
  const logs = join(dist, 'slurm-logs', more.hash);
  const taskLog = readdirSync(logs).find((n) => /^\d+_1\.out$/.test(n))!;
  t.regex(readFileSync(join(logs, taskLog), 'utf8'), /^attrib: unit 1: attempt 2 of 2$/m);
  t.is(runJson(dist).noise!.status, 'ran');
  // SLURM cancelled the downstream jobs (--kill-on-invalid-dep): nothing of this run is left in the queue.
  const queue = await command(join(SLURM_BIN!, 'squeue'), ['--noheader', '--format=%j|%k'], 30_000);
  t.false(queue.stdout.split('\n').some((l) => l.endsWith(`attrib:${dist}`)), queue.stdout);
});

slurmTest('a coordinator killed mid-run is started again: it waits for the jobs already in SLURM instead of submitting twice', async (t) => {
  const dir = tmp('attrib-slurm-');
  const dist = join(dir, 'dist');
  const log = join(dir, 'units.log');
  // Six units of 3 s, two at a time: the DAG is still running when the second coordinator comes.
  const args = ['run', CONFIG, '--executor', 'slurm', '--jobs', '2', '--runs', dist, '--set', 'stages.noise.params.sleepMs=3000'];
  const env = { PATH: slurmPath(), ATTRIB_DIST_LOG: log };
  const first = spawnCli(args, env);
  t.teardown(() => void (first.child.exitCode === null && first.child.kill('SIGKILL')));
  await waitUntil('every stage to be submitted', () => /^\[total\] submitted SLURM job \d+/m.test(first.stderr), 4 * MINUTE);
  first.child.kill('SIGKILL');
  await finished(first, 4 * MINUTE);

  const second = await finished(spawnCli(args, env), 5 * MINUTE);
  t.is(second.code, 0, second.stderr);
  // Stages that finished meanwhile are cached; the others are adopted, none submitted again.
  t.regex(second.stderr, /^\[total\] already in SLURM from an earlier run \(finish job \d+\): waiting for it$/m);
  t.notRegex(second.stderr, /submitted SLURM|cancelled SLURM/);
  t.is(unitLog(log).filter((l) => l.what === 'end').length, 9, 'each unit ran once');
  for (const stage of ['base', 'noise', 'more', 'total']) t.regex(runJson(dist)[stage]!.status, /^(ran|cached)$/);
});

slurmTest('a unit array cancelled from outside fails its stage with what SLURM says of the jobs, and blocks what is downstream', async (t) => {
  const dir = tmp('attrib-slurm-');
  const dist = join(dir, 'dist');
  const env = { PATH: slurmPath(), ATTRIB_DIST_LOG: join(dir, 'units.log') };
  const coordinator = spawnCli(['run', CONFIG, '--executor', 'slurm', '--jobs', '1', '--runs', dist, '--set', 'stages.noise.params.sleepMs=4000'], env);
  t.teardown(() => void (coordinator.child.exitCode === null && coordinator.child.kill('SIGKILL')));
  await waitUntil('the noise array', () => /^\[noise\] SLURM job array \d+:/m.test(coordinator.stderr), 4 * MINUTE);
  const arrayId = /^\[noise\] SLURM job array (\d+):/m.exec(coordinator.stderr)![1]!;
  await command(join(SLURM_BIN!, 'scancel'), [arrayId], 30_000);
  const r = await finished(coordinator, 4 * MINUTE);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`^\\[noise\\] FAILED: its SLURM jobs ended without finishing it: job ${arrayId} CANCELLED.*; logs in .*$`, 'm'));
  t.regex(r.stderr, /^\[total\] blocked: noise failed$/m);
  t.is(runJson(dist).more!.status, 'ran');
});
