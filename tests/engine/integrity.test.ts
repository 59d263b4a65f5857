/**
 * What the store verifies (issue 16, item 2): same-size damage to an artifact, an edited
 * manifest, and a downstream entry whose input was re-computed with other content are
 * never served as cached; `attrib verify` lists them (exit 1) and the next run computes
 * them again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { fileDigest } from '../../lib/io/digest.ts';
import type { StageHash } from '../../pipeline/registry.ts';
import { Store, type Manifest } from '../../pipeline/store.ts';
import { attrib, entry, executions, FIXTURES, readJson, runJson, tmp } from './helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');

async function finishedRun() {
  const runs = tmp();
  const log = join(runs, 'toy.log');
  const env = { ATTRIB_TOY_LOG: log };
  const r = await attrib(['run', TOY, '--runs', runs], { env });
  if (r.code !== 0) throw new Error(r.stderr);
  return { runs, log, env, run: runJson(runs, 'toy') };
}

const statuses = (runs: string) => Object.fromEntries(Object.entries(runJson(runs, 'toy')).map(([k, e]) => [k, e.status]));

test('an artifact whose bytes changed (same size) is corrupt: plan and verify say so, run re-computes it', async (t) => {
  const { runs, log, env, run } = await finishedRun();
  const file = join(entry(runs, run.squares!.hash), 'squares.json');
  const before = readFileSync(file, 'utf8');
  t.is(before, '[0,1,4,9,16,25]');
  writeFileSync(file, '[0,1,4,9,16,26]'); // the tail, other bytes of the same length

  const plan = await attrib(['plan', TOY, '--runs', runs]);
  t.regex(plan.stdout, /^squares .* corrupt: artifact squares\.json changed after it was written \(its sha256 differs from the manifest's\)/m);
  const verify = await attrib(['verify', '--runs', runs]);
  t.is(verify.code, 1, verify.stdout);
  t.regex(verify.stdout, new RegExp(`^corrupt  store/${run.squares!.hash}  square: artifact squares\\.json changed after it was written`, 'm'));
  t.regex(verify.stdout, /^4 entries checked: 2 intact, 2 corrupt or stale, 0 unfinished; `attrib run` computes them again$/m);

  const r = await attrib(['run', TOY, '--runs', runs], { env });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /\[squares\] warning: store entry [0-9a-f]{12}: artifact squares\.json changed after it was written .*; re-running the stage/);
  t.deepEqual(statuses(runs), { data: 'cached', squares: 'ran', total: 'cached', other: 'cached' });
  t.is(readFileSync(file, 'utf8'), before);
  t.is(runJson(runs, 'toy').total!.metrics.total, 55);
  t.is(executions(log).length, 6, 'the finished units were intact: only combine re-ran');
  t.is((await attrib(['verify', '--runs', runs])).code, 0);
});

test('a damaged unit file is not combined again: that unit re-runs, the others are kept', async (t) => {
  const { runs, log, env, run } = await finishedRun();
  const file = join(entry(runs, run.squares!.hash), 'units', '2', 'value.json');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('"y":4', '"y":5'));
  const r = await attrib(['run', TOY, '--runs', runs], { env });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /\[squares\] warning: store entry [0-9a-f]{12}: artifact units\/2\/value\.json changed after it was written .*; re-running the stage \(and its damaged unit 2\)/);
  t.is(executions(log).length, 7, 'unit 2 ran again, the other five were kept');
  t.is(runJson(runs, 'toy').total!.metrics.total, 55);
  t.is((await attrib(['verify', '--runs', runs])).code, 0);
});

test('an edited manifest (a metric changed) is corrupt, not served', async (t) => {
  const { runs, env, run } = await finishedRun();
  const path = join(entry(runs, run.total!.hash), 'manifest.json');
  const manifest = readJson<Manifest>(path);
  manifest.metrics.total = 999;
  writeFileSync(path, JSON.stringify(manifest, null, 2));

  const verify = await attrib(['verify', '--runs', runs]);
  t.is(verify.code, 1);
  t.regex(verify.stdout, /^corrupt  store\/[0-9a-f]{64}  total: manifest\.json was edited after it was written \(its digest does not match\)$/m);
  const r = await attrib(['run', TOY, '--runs', runs], { env });
  t.is(r.code, 0, r.stderr);
  t.is(statuses(runs).total, 'ran');
  t.is(runJson(runs, 'toy').total!.metrics.total, 55);
});

test('a downstream entry computed from other input bytes is stale: plan says why, run re-computes it', async (t) => {
  const { runs, log, env, run } = await finishedRun();
  // squares re-computed with other content (as a non-deterministic stage would give):
  // its file and its manifest agree, but total was computed from the old bytes.
  const store = new Store(runs);
  const hash = run.squares!.hash as StageHash;
  const file = join(store.entry(hash), 'squares.json');
  writeFileSync(file, '[0,1,4,9,16,36]');
  const manifest = readJson<Manifest>(join(store.entry(hash), 'manifest.json'));
  store.writeManifest({ ...manifest, metrics: { ...manifest.metrics, sum: 66 }, digests: { ...manifest.digests, 'squares.json': fileDigest(file) } });
  t.true(store.readManifest(hash).ok, 'squares itself is whole');

  const plan = await attrib(['plan', TOY, '--runs', runs]);
  t.regex(plan.stdout, /^total .* stale: its input squares \(store entry [0-9a-f]{12}\) was re-computed with other content since this entry was made/m);
  const verify = await attrib(['verify', '--runs', runs]);
  t.is(verify.code, 1);
  t.regex(verify.stdout, /^stale  store\/[0-9a-f]{64}  total: stale: its input squares/m);

  const r = await attrib(['run', TOY, '--runs', runs], { env });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(statuses(runs), { data: 'cached', squares: 'cached', total: 'ran', other: 'cached' });
  t.is(runJson(runs, 'toy').total!.metrics.total, 66, 'total was computed from the bytes squares holds now');
  t.is(executions(log).length, 6);
});

test('a stage reading a damaged input fails with a message naming it instead of using it', async (t) => {
  const { runs, run } = await finishedRun();
  const store = new Store(runs);
  writeFileSync(join(store.entry(run.data!.hash as StageHash), 'numbers.json'), '[0,1,2,3,4,9]');
  const { performTask } = await import('../../pipeline/task.ts');
  const { Registry } = await import('../../pipeline/registry.ts');
  const { default: register } = await import('../fixtures/engine/toy-plugin.ts');
  const registry = new Registry();
  register(registry);
  await t.throwsAsync(performTask(registry, store, { step: 'count', hash: run.squares!.hash as StageHash }), {
    message: /^input [0-9a-f]{12} is not valid: artifact numbers\.json changed after it was written .*; `attrib run` computes it again$/,
  });
});
