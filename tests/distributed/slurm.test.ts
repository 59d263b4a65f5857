/**
 * The slurm executor against a real single-node SLURM (.ci/services.sh: munged,
 * slurmctld, slurmd, no accounting): a small config runs as job arrays with the `%`
 * limit from --jobs, `attrib status` shows queued / running units while it runs, and the
 * store ends up byte for byte what a local run writes; a failing unit is resubmitted
 * and then fails its stage with its message.
 */
import { join } from 'node:path';
import { tmp } from '../engine/helpers.ts';
import { command } from '../../pipeline/distributed/slurm.ts';
import { CONFIG, finished, runJson, sameStore, SLURM_BIN, slurmPath, slurmTest, spawnCli, unitFolders, unitLog, waitUntil } from './helpers.ts';

const MINUTE = 60_000;

slurmTest('a config runs as job arrays (%--jobs), status shows queued/running units, results are bit-identical to a local run', async (t) => {
  const dir = tmp('attrib-slurm-');
  const local = join(dir, 'local');
  const dist = join(dir, 'dist');
  const log = join(dir, 'units.log');
  const set = ['--set', 'stages.noise.params.sleepMs=1500']; // long enough to see the array queued and running
  const env = { PATH: slurmPath(), ATTRIB_DIST_LOG: log };

  const coordinator = spawnCli(['run', CONFIG, '--executor', 'slurm', '--jobs', '2', '--runs', dist, ...set], env);
  t.teardown(() => void (coordinator.child.exitCode === null && coordinator.child.kill('SIGKILL')));
  // While the arrays run: squeue knows them by the store hash, with the % limit.
  await waitUntil('the noise array to be submitted', () => /\[noise\] submitted SLURM job array \d+/.test(coordinator.stderr), 2 * MINUTE);
  const arrayId = /\[noise\] submitted SLURM job array (\d+): 6 task\(s\), at most 2 at once/.exec(coordinator.stderr)?.[1];
  t.truthy(arrayId, coordinator.stderr);
  const show = await command(join(SLURM_BIN!, 'scontrol'), ['show', 'job', arrayId!], 30_000);
  t.regex(show.stdout, /ArrayTaskThrottle=2/);
  t.regex(show.stdout, /JobName=attrib-[0-9a-f]{64}\b/);
  const status = await finished(spawnCli(['status', CONFIG, '--runs', dist, ...set], env), MINUTE);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^noise\s+running.*, \d+ queued, \d+ running \(slurm\)/m);

  const r = await finished(coordinator, 4 * MINUTE);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^\[noise\] started 6 units$/m);
  t.regex(r.stderr, /^\[noise\] ran in [\d.]+s: sum=-?[\d.]+ units=6$/m);
  t.regex(r.stderr, /^\[more\] submitted SLURM job array \d+: 3 task\(s\), at most 2 at once/m);
  for (const [stage, count] of [['noise', 6], ['more', 3]] as const) {
    const { units, leftovers } = unitFolders(dist, runJson(dist)[stage]!.hash);
    t.deepEqual(units, Array.from({ length: count }, (_, i) => String(i)));
    t.deepEqual(leftovers, []);
  }
  t.is(unitLog(log).filter((l) => l.what === 'end').length, 9, 'each unit ran once');

  const ref = await finished(spawnCli(['run', CONFIG, '--runs', local, '--jobs', '2', ...set]), 3 * MINUTE);
  t.is(ref.code, 0, ref.stderr);
  sameStore(t, local, dist);
});

slurmTest('a failing array task is resubmitted, then fails its stage with the unit\'s message', async (t) => {
  const dir = tmp('attrib-slurm-');
  const dist = join(dir, 'dist');
  const log = join(dir, 'units.log');
  const r = await finished(
    spawnCli(['run', CONFIG, '--executor', 'slurm', '--runs', dist, '--set', 'stages.more.params.failAt=1', '--set', 'stages.noise.params.count=2'], { PATH: slurmPath(), ATTRIB_DIST_LOG: log }),
    4 * MINUTE,
  );
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^\[more\] unit 1 failed in SLURM task \d+_1 \(attempt 1 of 2\): dist failure at unit 1$/m);
  t.regex(r.stderr, /^\[more\] resubmitted SLURM job array \d+: 1 task\(s\)/m);
  t.regex(r.stderr, /^\[more\] FAILED: unit 1 failed: dist failure at unit 1$/m);
  t.regex(r.stderr, /^\[total\] blocked: more failed$/m);
  const more = runJson(dist).more!;
  t.is(more.error, 'unit 1 failed: dist failure at unit 1');
  t.is(unitLog(log).filter((l) => l.what === 'start' && l.hash8 === more.hash.slice(0, 8) && l.index === 1).length, 2);
  t.is(runJson(dist).noise!.status, 'ran');
});
