/** The subsets kind: exact sizes ⌊α·n⌋, bernoulli rates, α = 1, and seeding. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { MASKS } from '../../lib/artifacts.ts';
import { dataset } from '../../stages/dataset.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { subsets } from '../../stages/subsets.ts';
import { runStage } from '../helpers/run-stage.ts';

let data: Promise<Artifact>;
test.before(() => {
  data = runStage(dataset, { params: { source: { kind: 'synthetic', dim: 2, n: 120 }, train: 101, test: 19 } });
});

const masksOf = (a: Artifact) => readNpy(join(a.dir, MASKS.masks));
const rowSums = (m: { shape: number[]; data: ArrayLike<number> }) =>
  Array.from({ length: m.shape[0] }, (_, k) => Array.from(m.data).slice(k * m.shape[1], (k + 1) * m.shape[1]).reduce((a, b) => a + b, 0));

test('exact masks have ⌊α·n⌋ ones, are uint8 [count, n] and differ from each other', async (t) => {
  const a = await runStage(subsets, { params: { count: 6, alpha: 0.37 }, inputs: { data: await data } });
  const m = masksOf(a);
  t.is(m.dtype, 'uint8');
  t.deepEqual(m.shape, [6, 101]);
  t.deepEqual(rowSums(m), new Array(6).fill(Math.floor(0.37 * 101)));
  t.is(new Set(Array.from({ length: 6 }, (_, k) => Array.from(m.data.subarray(k * 101, (k + 1) * 101)).join(''))).size, 6);
  const meta = JSON.parse(readFileSync(join(a.dir, MASKS.meta), 'utf8'));
  t.like(meta, { count: 6, nTrain: 101, alpha: 0.37, mode: 'exact', size: 37 });
  t.is(a.metrics.meanSize, 37);
});

test('bernoulli masks include each example at rate α', async (t) => {
  const a = await runStage(subsets, { params: { count: 40, alpha: 0.25, mode: 'bernoulli' }, inputs: { data: await data } });
  const sizes = rowSums(masksOf(a));
  const rate = sizes.reduce((s, v) => s + v, 0) / (40 * 101);
  t.true(Math.abs(rate - 0.25) < 0.03, `rate ${rate}`);
  t.true(new Set(sizes).size > 1, 'sizes vary');
});

test('alpha = 1 is the full set in every row', async (t) => {
  for (const mode of ['exact', 'bernoulli'] as const) {
    const a = await runStage(subsets, { params: { count: 3, alpha: 1, mode }, inputs: { data: await data } });
    t.true(masksOf(a).data.every((v) => v === 1));
  }
});

test('masks are seeded: same seed same masks, another seed other masks, and an explicit seed keeps the first masks when count grows', async (t) => {
  const input = { data: await data };
  const a = await runStage(subsets, { params: { count: 4, alpha: 0.5 }, inputs: input });
  const b = await runStage(subsets, { params: { count: 4, alpha: 0.5 }, inputs: input });
  const c = await runStage(subsets, { params: { count: 4, alpha: 0.5 }, inputs: input, seed: 1 });
  t.deepEqual(masksOf(a), masksOf(b));
  t.notDeepEqual(masksOf(a).data, masksOf(c).data);
  const small = await runStage(subsets, { params: { count: 3, alpha: 0.5, seed: 9 }, inputs: input });
  const large = await runStage(subsets, { params: { count: 5, alpha: 0.5, seed: 9 }, inputs: input });
  t.deepEqual(masksOf(small).data, masksOf(large).data.subarray(0, 3 * 101));
});

test('invalid alphas are rejected', (t) => {
  t.throws(() => subsets.params.parse({ count: 2, alpha: 0 }));
  t.throws(() => subsets.params.parse({ count: 2, alpha: 1.5 }));
  t.throws(() => subsets.params.parse({ count: 0, alpha: 0.5 }));
});
