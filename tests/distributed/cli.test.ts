/**
 * The distributed executors' parts that need no server: job and array naming, squeue
 * parsing, the executor section of a config, and the command line's answers to a
 * user's mistakes (exit 2, one line, no stack trace).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { attrib, tmp } from '../engine/helpers.ts';
import { jobId, parseUnitJob } from '../../pipeline/executors/bullmq/jobs.ts';
import { checkRedisUrl, redact } from '../../pipeline/executors/bullmq/redis.ts';
import { findExecutor } from '../../pipeline/executors/index.ts';
import { sbatchResourceArgs } from '../../pipeline/executors/slurm/index.ts';
import { arrayName, indexRanges, jobName, parseJobName, parseSqueue, shellQuote } from '../../pipeline/executors/slurm/jobs.ts';
import { Registry } from '../../pipeline/registry.ts';
import type { StageHash } from '../../pipeline/registry.ts';
import { CONFIG, PLUGIN } from './helpers.ts';

const H = 'ab'.repeat(32) as StageHash;

test('job ids and data: a hash and an index, nothing else', (t) => {
  t.is(jobId(H, 7), `${H}-7`);
  t.deepEqual(parseUnitJob({ hash: H, index: 7 }, `${H}-7`), { ok: true, job: { hash: H, index: 7 } });
  for (const bad of [{ hash: H, index: 7, plugin: '/tmp/x.ts' }, { hash: 'not-a-hash', index: 0 }, { hash: H, index: -1 }, { command: 'rm -rf /' }, null]) {
    t.false(parseUnitJob(bad, undefined).ok, JSON.stringify(bad));
  }
  t.false(parseUnitJob({ hash: H, index: 7 }, `${H}-8`).ok, 'the id must match the data');
});

test('SLURM job names, index ranges and squeue lines', (t) => {
  t.is(indexRanges([9, 0, 1, 2, 3, 5, 7, 8, 3]), '0-3,5,7-9');
  t.is(indexRanges([4]), '4');
  t.is(arrayName(H, 0), `attrib-${H}`);
  t.is(arrayName(H, 1000), `attrib-${H}-o1000`);
  t.is(jobName(H, 'count'), `attrib-${H}-count`);
  t.deepEqual(parseJobName(`attrib-${H}-o1000`), { hash: H, role: 'units', offset: 1000 });
  t.deepEqual(parseJobName(`attrib-${H}-finish`), { hash: H, role: 'finish', offset: 0 });
  t.is(parseJobName('attrib-nothex'), undefined);
  t.is(parseJobName(`attrib-${H}-other`), undefined);
  const tasks = parseSqueue(
    [
      `12|0|RUNNING|None|attrib-${H}|attrib:/runs`,
      `12|3|PENDING|JobArrayTaskLimit|attrib-${H}|attrib:/runs`,
      `15|2|PENDING|None|attrib-${H}-o1000|attrib:/a|b`,
      `16|N/A|PENDING|Dependency|attrib-${H}-finish|attrib:/runs`,
      '99|N/A|RUNNING|None|bash|',
      '',
    ].join('\n'),
  );
  t.deepEqual(
    tasks.map((x) => [x.arrayJobId, x.taskId, x.role, x.index, x.state, x.reason, x.comment]),
    [
      ['12', 0, 'units', 0, 'RUNNING', 'None', 'attrib:/runs'],
      ['12', 3, 'units', 3, 'PENDING', 'JobArrayTaskLimit', 'attrib:/runs'],
      ['15', 2, 'units', 1002, 'PENDING', 'None', 'attrib:/a|b'],
      ['16', -1, 'finish', -1, 'PENDING', 'Dependency', 'attrib:/runs'],
    ],
  );
  t.is(shellQuote('/a/b.ts'), '/a/b.ts');
  t.is(shellQuote("it's here"), `'it'\\''s here'`);
});

test('redis URLs: checked, and never shown with their password', (t) => {
  t.is(redact('redis://:s3cret@host:6379/0'), 'redis://:***@host:6379/0');
  t.is(redact('rediss://user:s3cret@host:6380'), 'rediss://user:***@host:6380');
  t.is(checkRedisUrl('rediss://user:pw@host:6380'), undefined);
  t.regex(checkRedisUrl('http://host')!, /not a redis:\/\/ or rediss:\/\/ URL/);
  t.regex(checkRedisUrl('localhost:6379')!, /not a redis|not a URL/);
});

test('the executor section: one block per executor, defaults, per-kind SLURM resources', (t) => {
  const registry = new Registry();
  const bull = findExecutor('bullmq', registry)!.options!;
  t.like(bull.parse(undefined), { queue: 'attrib', prefix: 'attrib', attempts: 3 });
  t.like(bull.parse({ bullmq: { attempts: 5 }, slurm: { partition: 'gpu' } }), { attempts: 5, queue: 'attrib' });
  const typo = bull.safeParse({ bullmq: { attempt: 5 } });
  t.false(typo.success);
  t.false(bull.safeParse({ slrum: {} }).success, 'unknown blocks are errors');
  const slurm = findExecutor('slurm', registry)!.options!.parse({ slurm: { partition: 'cpu', time: '01:00:00', kinds: { train: { partition: 'gpu', gres: 'gpu:1', sbatchArgs: ['--exclusive'] } } } });
  t.deepEqual(sbatchResourceArgs(slurm), ['--partition=cpu', '--time=01:00:00']);
  t.deepEqual(sbatchResourceArgs({ ...slurm, ...slurm.kinds.train }), ['--partition=gpu', '--time=01:00:00', '--gres=gpu:1', '--exclusive']);
});

test('command-line mistakes exit 2 with one line: no --redis, a typo in executor:, no sbatch, attrib unit without --plugin', async (t) => {
  const dir = tmp('attrib-dist-cli-');
  const config = join(dir, 'c.yaml');
  writeFileSync(config, `name: c\nplugins: [${PLUGIN}]\nexecutor:\n  slurm:\n    partiton: gpu\nstages:\n  base: {kind: dbase}\n`);
  const env = { ATTRIB_REDIS_URL: '' };
  const [noRedis, typo, noSbatch, worker] = await Promise.all([
    attrib(['run', CONFIG, '--executor', 'bullmq', '--runs', join(dir, 'runs')], { env }),
    attrib(['run', config, '--executor', 'slurm', '--runs', join(dir, 'runs')], { env }),
    attrib(['run', CONFIG, '--executor', 'slurm', '--runs', join(dir, 'runs')], { env: { PATH: join(dir, 'empty-bin') } }),
    attrib(['worker', '--runs', join(dir, 'runs')], { env }),
  ]);
  t.is(noRedis.code, 2, noRedis.stderr);
  t.regex(noRedis.stderr, /^--executor: the bullmq executor needs --redis URL \(or ATTRIB_REDIS_URL in the environment\)$/m);
  t.is(typo.code, 2);
  t.regex(typo.stderr, /c\.yaml:5 executor\.slurm\.partiton: unknown key "partiton"/);
  t.is(noSbatch.code, 2);
  t.regex(noSbatch.stderr, /^--executor: the slurm executor needs sbatch on PATH \(run attrib on a SLURM login node\)$/m);
  t.is(worker.code, 2);
  t.regex(worker.stderr, /^attrib worker needs --redis URL/m);

  // attrib unit loads only the plugins on its command line, never the ones stage.json names.
  const entry = join(dir, 'runs', 'store', H);
  mkdirSync(entry, { recursive: true });
  writeFileSync(join(entry, 'stage.json'), JSON.stringify({ hash: H, kind: 'dnoise', version: '1', params: {}, inputs: {}, seed: 0, backend: 'auto', plugins: [PLUGIN], units: 1 }));
  const unit = await attrib(['unit', H, '0', '--runs', join(dir, 'runs')]);
  t.is(unit.code, 2);
  t.regex(unit.stderr, /^stage kind "dnoise" is not registered: pass the module that registers it with --plugin/m);
});
