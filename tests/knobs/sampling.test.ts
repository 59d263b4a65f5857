/** θ → mask sampling: priors, per-group inclusion rates, mixture counts, groups, seeding. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { DATASET, MASKS } from '../../lib/artifacts.ts';
import { dataset } from '../../stages/dataset.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { gamma } from '../../lib/knobs/priors.ts';
import { mixtureCounts } from '../../lib/knobs/sampler.ts';
import { Rng } from '../../lib/random/rng.ts';
import { runStage } from '../helpers/run-stage.ts';
import { knobSubsets, mean, readMasks, syntheticData } from './helpers.ts';

let data: Promise<Artifact>;
test.before(() => {
  data = syntheticData(300, 20, 3);
});

/** Examples of group g in draw k, and the group sizes. */
function groupCounts(a: Artifact) {
  const { masks, groupOf, theta } = readMasks(a);
  const [count, n] = masks.shape;
  const d = theta.shape[1];
  const counts = Array.from({ length: count }, () => new Array<number>(d).fill(0));
  const sizes = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) if (groupOf[i] >= 0) sizes[groupOf[i]]++;
  for (let k = 0; k < count; k++) for (let i = 0; i < n; i++) if (masks.data[k * n + i] && groupOf[i] >= 0) counts[k][groupOf[i]]++;
  return { counts, sizes, count, d, n };
}

test('rates, bernoulli: θ ~ uniform box, each group included at rate θ_g; θ and π stored beside the masks', async (t) => {
  const a = await knobSubsets(await data, 200, { groups: { by: 'label' }, prior: { kind: 'uniform', low: 0.2, high: 0.8 } });
  const { theta, inclusion } = readMasks(a);
  t.is(theta.dtype, 'float32');
  t.deepEqual(theta.shape, [200, 3]);
  t.true(theta.data.every((v) => v >= 0.2 && v <= 0.8));
  t.true(Math.abs(mean(theta.data) - 0.5) < 0.03, `mean θ ${mean(theta.data)}`);
  t.deepEqual(inclusion.data, theta.data, 'bernoulli rates: π_g = θ_g');
  const { counts, sizes, count, d } = groupCounts(a);
  // Observed fraction of each group against θ_g: unbiased, and tracking θ closely.
  const errors: number[] = [];
  for (let k = 0; k < count; k++) for (let g = 0; g < d; g++) errors.push(counts[k][g] / sizes[g] - theta.data[k * d + g]);
  t.true(Math.abs(mean(errors)) < 0.01, `mean error ${mean(errors)}`);
  const rms = Math.sqrt(mean(errors.map((e) => e * e)));
  t.true(rms < 0.07, `rms ${rms} (binomial sd ≈ 0.05 for groups of ~100)`);
  const meta = JSON.parse(readFileSync(join(a.dir, MASKS.meta), 'utf8'));
  t.is(meta.mode, 'knobs');
  t.like(meta.knobs, { by: 'label', mode: 'rates', sampling: 'bernoulli', rest: 1, names: ['class 0', 'class 1', 'class 2'], ungrouped: 0 });
  t.is(meta.knobs.sizes.reduce((s: number, v: number) => s + v, 0), 300);
  t.is(a.metrics.knobs, 3);
});

test('rates, exact: exactly round(θ_g · n_g) examples of each group, π_g = that count / n_g', async (t) => {
  const a = await knobSubsets(await data, 30, { groups: { by: 'label' }, prior: { kind: 'uniform', low: [0, 0.5, 0.9], high: [0.3, 0.5, 1] }, sampling: 'exact' });
  const { theta, inclusion } = readMasks(a);
  const { counts, sizes, count, d } = groupCounts(a);
  for (let k = 0; k < count; k++) {
    for (let g = 0; g < d; g++) {
      t.is(counts[k][g], Math.round(theta.data[k * d + g] * sizes[g]));
      t.true(Math.abs(inclusion.data[k * d + g] - counts[k][g] / sizes[g]) < 1e-6);
    }
    t.is(theta.data[k * d + 1], 0.5, 'a per-knob box of zero width fixes that knob');
  }
});

test('mixture: every subset has `total` examples split by θ ~ Dirichlet(c), with the Dirichlet moments', async (t) => {
  const c = [1, 2, 3];
  const a = await knobSubsets(await data, 400, { groups: { by: 'label' }, prior: { kind: 'dirichlet', concentration: c }, mode: 'mixture', total: 60 });
  const { theta, inclusion, masks } = readMasks(a);
  const { counts, sizes, count, d, n } = groupCounts(a);
  for (let k = 0; k < count; k++) {
    let size = 0;
    for (let i = 0; i < n; i++) size += masks.data[k * n + i];
    t.is(size, 60);
    const row = theta.data.subarray(k * d, (k + 1) * d);
    t.true(Math.abs(row[0] + row[1] + row[2] - 1) < 1e-5);
    const expected = mixtureCounts(60, row, sizes);
    t.deepEqual(counts[k], Array.from(expected));
    for (let g = 0; g < d; g++) t.true(Math.abs(inclusion.data[k * d + g] - expected[g] / sizes[g]) < 1e-6);
  }
  const c0 = c.reduce((s, v) => s + v, 0);
  for (let g = 0; g < d; g++) {
    const col = Array.from({ length: count }, (_, k) => theta.data[k * d + g]);
    const m = mean(col);
    const v = mean(col.map((x) => (x - m) ** 2));
    const mExpected = c[g] / c0;
    const vExpected = (c[g] * (c0 - c[g])) / (c0 * c0 * (c0 + 1));
    t.true(Math.abs(m - mExpected) < 4 * Math.sqrt(vExpected / count), `knob ${g}: mean ${m} vs ${mExpected}`);
    t.true(Math.abs(v / vExpected - 1) < 0.25, `knob ${g}: variance ${v} vs ${vExpected}`);
  }
});

test('mixtureCounts: largest remainders, caps at the group size with the excess spread by weight (by size when the rest weigh 0)', (t) => {
  t.deepEqual(Array.from(mixtureCounts(10, [0.5, 0.3, 0.2], [100, 100, 100])), [5, 3, 2]);
  t.deepEqual(Array.from(mixtureCounts(10, [1 / 3, 1 / 3, 1 / 3], [100, 100, 100])), [4, 3, 3]);
  t.deepEqual(Array.from(mixtureCounts(60, [0.8, 0.1, 0.1], [20, 100, 100])), [20, 20, 20]);
  t.deepEqual(Array.from(mixtureCounts(60, [0.8, 0.15, 0.05], [20, 100, 100])), [20, 30, 10]);
  t.deepEqual(Array.from(mixtureCounts(30, [1, 0, 0], [10, 20, 40])), [10, 7, 13]);
  t.deepEqual(Array.from(mixtureCounts(170, [0.2, 0.3, 0.5], [10, 20, 140])), [10, 20, 140]);
  t.throws(() => mixtureCounts(171, [0.2, 0.3, 0.5], [10, 20, 140]), { message: /needs that many/ });
  const rng = Rng.from('mixture-counts');
  for (let r = 0; r < 200; r++) {
    const w = [rng.uniform(), rng.uniform(), rng.uniform(), rng.uniform()];
    const sizes = [1 + rng.int(30), 1 + rng.int(30), 1 + rng.int(30), 1 + rng.int(30)];
    const total = 1 + rng.int(sizes.reduce((s, v) => s + v, 0));
    const c = mixtureCounts(total, w, sizes);
    t.is(c.reduce((s, v) => s + v, 0), total);
    c.forEach((v, g) => t.true(v >= 0 && v <= sizes[g]));
  }
});

test('groups by indices: named lists, the rest at its own rate; overlapping or out-of-range rows are errors', async (t) => {
  const ds = await data;
  const lists = [
    { name: 'first', indices: Array.from({ length: 20 }, (_, i) => i) },
    { name: 'second', indices: Array.from({ length: 20 }, (_, i) => 100 + i) },
  ];
  for (const rest of [0, 1, 0.5]) {
    const a = await knobSubsets(ds, 40, { groups: { by: 'indices', lists }, prior: { kind: 'uniform' }, rest });
    const { masks, groupOf } = readMasks(a);
    t.is(groupOf[5], 0);
    t.is(groupOf[110], 1);
    t.is(groupOf[50], -1);
    let restIn = 0;
    let restTotal = 0;
    for (let k = 0; k < 40; k++) {
      for (let i = 0; i < 300; i++) {
        if (groupOf[i] >= 0) continue;
        restTotal++;
        restIn += masks.data[k * 300 + i];
      }
    }
    t.true(Math.abs(restIn / restTotal - rest) < 0.02, `rest ${rest}: rate ${restIn / restTotal}`);
    const meta = JSON.parse(readFileSync(join(a.dir, MASKS.meta), 'utf8'));
    t.deepEqual(meta.knobs.names, ['first', 'second']);
    t.is(meta.knobs.ungrouped, 260);
  }
  await t.throwsAsync(knobSubsets(ds, 2, { groups: { by: 'indices', lists: [lists[0], { name: 'x', indices: [19, 200] }] }, prior: { kind: 'uniform' } }), {
    message: /row 19 is in both "first" and "x"/,
  });
  await t.throwsAsync(knobSubsets(ds, 2, { groups: { by: 'indices', lists: [{ name: 'x', indices: [300] }] }, prior: { kind: 'uniform' } }), { message: /train split has 300 examples/ });
});

test('groups by the data set\'s group column need a source with one; an empty draw is an error', async (t) => {
  const ds = await data;
  await t.throwsAsync(knobSubsets(ds, 2, { groups: { by: 'group' }, prior: { kind: 'uniform' } }), { message: /gave none: give the csv source groupColumn/ });
  await t.throwsAsync(knobSubsets(ds, 2, { groups: { by: 'label' }, prior: { kind: 'uniform', low: 0, high: 0 } }), { message: /empty subset/ });
  await t.throwsAsync(knobSubsets(ds, 2, { groups: { by: 'label' }, prior: { kind: 'uniform', low: [0.1, 0.2] } }), { message: /2 values for 3 knobs/ });
});

test('the knobs param is checked: mixture needs total and a dirichlet prior', async (t) => {
  const { subsetsParams } = await import('../../stages/subsets.ts');
  const issues = (knobs: unknown) => {
    const r = subsetsParams.safeParse({ count: 3, knobs });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  t.deepEqual(issues({ groups: { by: 'label' }, prior: { kind: 'dirichlet' }, mode: 'mixture', total: 5 }), []);
  t.true(issues({ groups: { by: 'label' }, prior: { kind: 'dirichlet' }, mode: 'mixture' }).some((s) => s.startsWith('knobs.total')));
  t.true(issues({ groups: { by: 'label' }, prior: { kind: 'uniform' }, mode: 'mixture', total: 5 }).some((s) => s.startsWith('knobs.prior.kind')));
  t.true(issues({ groups: { by: 'label' }, prior: { kind: 'uniform', low: 0.9, high: 0.1 } }).some((s) => s.startsWith('knobs.prior.low')));
  t.true(issues({ groups: { by: 'labels' }, prior: { kind: 'uniform' } }).length > 0);
});

test('draws are seeded: same seed same θ and masks, an explicit seed keeps the first draws when count grows', async (t) => {
  const ds = await data;
  const knobs = { groups: { by: 'label' }, prior: { kind: 'dirichlet' }, mode: 'mixture', total: 50 };
  const a = readMasks(await knobSubsets(ds, 4, knobs));
  const b = readMasks(await knobSubsets(ds, 4, knobs));
  t.deepEqual(a.theta.data, b.theta.data);
  t.deepEqual(a.masks.data, b.masks.data);
  const small = readMasks(await knobSubsets(ds, 3, knobs, 7));
  const large = readMasks(await knobSubsets(ds, 6, knobs, 7));
  t.deepEqual(small.theta.data, large.theta.data.subarray(0, 9));
  t.deepEqual(small.masks.data, large.masks.data.subarray(0, 3 * 300));
  t.notDeepEqual(a.theta.data, small.theta.data.subarray(0, 12));
});

test('gamma variates have mean and variance equal to their shape', (t) => {
  for (const shape of [0.3, 1, 4.5]) {
    const rng = Rng.from('gamma-test', shape);
    const xs = Array.from({ length: 20000 }, () => gamma(rng, shape));
    const m = mean(xs);
    const v = mean(xs.map((x) => (x - m) ** 2));
    t.true(Math.abs(m - shape) < 4 * Math.sqrt(shape / 20000), `shape ${shape}: mean ${m}`);
    t.true(Math.abs(v / shape - 1) < 0.1, `shape ${shape}: variance ${v}`);
  }
});

test('groups by a csv column (groupColumn): the data set\'s groups are the knobs, rows without one follow rest', async (t) => {
  const csv = join(import.meta.dirname, '..', 'fixtures', 'knobs', 'sources.csv');
  const ds = await runStage(dataset, { params: { source: { kind: 'csv', path: csv, groupColumn: 'source' }, train: 48, test: 12 } });
  const a = await knobSubsets(ds, 20, { groups: { by: 'group' }, prior: { kind: 'uniform', low: 0.5, high: 0.5 }, sampling: 'exact', rest: 0 });
  const { groupOf, masks, inclusion } = readMasks(a);
  t.deepEqual(Array.from(groupOf), Array.from(readNpy(join(ds.dir, DATASET.groupTrain)).data));
  const meta = JSON.parse(readFileSync(join(a.dir, MASKS.meta), 'utf8'));
  t.deepEqual(meta.knobs.names, ['books', 'code', 'web']);
  t.is(meta.knobs.by, 'group');
  t.is(meta.knobs.ungrouped, Array.from(groupOf).filter((g) => g < 0).length);
  t.true(meta.knobs.ungrouped > 0);
  for (let k = 0; k < 20; k++) for (let i = 0; i < 48; i++) if (groupOf[i] < 0) t.is(masks.data[k * 48 + i], 0);
  const { counts, sizes } = groupCounts(a);
  for (let k = 0; k < 20; k++) for (let g = 0; g < 3; g++) t.is(counts[k][g], Math.round(0.5 * sizes[g]));
  t.true(Math.abs(inclusion.data[0] - Math.round(0.5 * sizes[0]) / sizes[0]) < 1e-6);
});
