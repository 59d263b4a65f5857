/**
 * knob-predict: Σ_i π_i(θ) τ_i equals the masks-averaged linear prediction
 * E_{S~q_θ}[Σ_{i∈S} τ_i] (exactly by enumeration, and through the real sampler), and the
 * stage scores it on held-out draws side by side with knobmodel.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { KNOBS } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { knobPredictions, type KnobDraws } from '../../lib/knobs/draws.ts';
import { groupsFromAssignment } from '../../lib/knobs/groups.ts';
import { drawKnobMask, groupInclusion } from '../../lib/knobs/sampler.ts';
import { knobsSpec, type KnobsSpec } from '../../lib/knobs/schema.ts';
import { knobmodel } from '../../stages/knobmodel.ts';
import { knobPredict } from '../../stages/knob-predict.ts';
import { Rng } from '../../lib/random/rng.ts';
import { runStage } from '../helpers/run-stage.ts';
import { knobSubsets, mean, plantedModels, plantedScores, readMasks, syntheticData } from './helpers.ts';

/** 8 examples: group a = rows 0-2, group b = rows 3-6, row 7 in no group. */
const groupOf = Int32Array.from([0, 0, 0, 1, 1, 1, 1, -1]);
const groups = groupsFromAssignment(groupOf, ['a', 'b'], 'test');
const tau = Float32Array.from([0.5, -1, 2, 0.25, 3, -0.5, 1, 4]);

function drawsAt(spec: KnobsSpec, theta: number[]): KnobDraws {
  return {
    count: 1,
    nTrain: 8,
    d: 2,
    theta: Float32Array.from(theta),
    inclusion: Float32Array.from(groupInclusion(spec, groups, theta)),
    groupOf,
    meta: { names: groups.names, sizes: groups.sizes, by: 'indices', mode: spec.mode, sampling: spec.sampling, total: spec.total, rest: spec.rest, prior: spec.prior, ungrouped: 1 },
  };
}

const spec = (s: unknown) => knobsSpec.parse({ groups: { by: 'indices', lists: [{ name: 'a', indices: [0] }] }, ...(s as object) });

test('bernoulli rates: Σ π_i(θ) τ_i is the exact average of Σ_{i∈S} τ_i over all 2^n masks weighted by q_θ', (t) => {
  const s = spec({ prior: { kind: 'uniform' }, rest: 0.4 });
  const theta = [0.3, 0.8];
  const rate = (i: number) => (groupOf[i] >= 0 ? theta[groupOf[i]] : 0.4);
  let expected = 0;
  for (let bits = 0; bits < 1 << 8; bits++) {
    let p = 1;
    let sum = 0;
    for (let i = 0; i < 8; i++) {
      const inS = (bits >> i) & 1;
      p *= inS ? rate(i) : 1 - rate(i);
      if (inS) sum += tau[i];
    }
    expected += p * sum;
  }
  const { predictions } = knobPredictions(drawsAt(s, theta), tau, 1);
  t.true(Math.abs(predictions[0] - expected) < 1e-6, `${predictions[0]} vs ${expected}`);
});

test('through the sampler: the average of Σ_{i∈S} τ_i over many masks drawn at θ matches Σ π_i(θ) τ_i (rates exact, mixture with a cap)', (t) => {
  const cases: [string, KnobsSpec, number[]][] = [
    ['rates exact', spec({ prior: { kind: 'uniform' }, sampling: 'exact', rest: 0.5 }), [0.4, 0.6]],
    ['rates bernoulli', spec({ prior: { kind: 'uniform' }, rest: 1 }), [0.7, 0.2]],
    ['mixture, group a capped', spec({ prior: { kind: 'dirichlet' }, mode: 'mixture', total: 5, rest: 0 }), [0.9, 0.1]],
    ['mixture', spec({ prior: { kind: 'dirichlet' }, mode: 'mixture', total: 3, rest: 0 }), [0.5, 0.5]],
  ];
  for (const [name, s, theta] of cases) {
    const { predictions } = knobPredictions(drawsAt(s, theta), tau, 1);
    const rng = Rng.from('knob-predict-mc', name);
    const sums: number[] = [];
    for (let r = 0; r < 20000; r++) {
      const mask = drawKnobMask(s, groups, theta, rng.split(r));
      let sum = 0;
      for (let i = 0; i < 8; i++) if (mask[i]) sum += tau[i];
      sums.push(sum);
    }
    const m = mean(sums);
    const se = Math.sqrt(mean(sums.map((x) => (x - m) ** 2)) / sums.length);
    t.true(Math.abs(m - predictions[0]) < 4 * se + 1e-9, `${name}: masks average ${m} vs Σπτ ${predictions[0]} (se ${se})`);
  }
});

const nTest = 6;
let data: Promise<Artifact>;
test.before(() => {
  data = syntheticData(200, nTest, 3);
});

const rates = { groups: { by: 'label' }, prior: { kind: 'uniform', low: 0.1, high: 1 } };

test('the stage: truth linear in the realized masks scores spearmanRealized 1; truth linear in π scores spearman 1', async (t) => {
  const ds = await data;
  const n = 200;
  const rng = Rng.from('knob-predict-stage');
  const targets = Int32Array.from([4, 0, 2]);
  const scoresTau = rng.fillNormal(new Float32Array(targets.length * n));
  // Give each class a different mean score so θ moves the prediction a lot.
  const y = readNpy(join(ds.dir, 'y_train.npy')).data as Int32Array;
  for (let j = 0; j < targets.length; j++) for (let i = 0; i < n; i++) scoresTau[j * n + i] += (y[i] - 1) * (j + 1) * 0.5;
  const scores = plantedScores(ds, scoresTau, targets, n);
  const held = await knobSubsets(ds, 40, rates, 11);
  const { masks, inclusion, groupOf } = readMasks(held);
  const row = (t: number) => targets.indexOf(t);
  const realized = plantedModels(ds, held, nTest, 1, (k, test) => {
    const j = row(test);
    if (j < 0) return 0;
    let s = 0;
    for (let i = 0; i < n; i++) if (masks.data[k * n + i]) s += scoresTau[j * n + i];
    return s;
  });
  const expected = plantedModels(ds, held, nTest, 1, (k, test) => {
    const j = row(test);
    if (j < 0) return 0;
    let s = 3;
    for (let i = 0; i < n; i++) s += inclusion.data[k * 3 + groupOf[i]] * scoresTau[j * n + i];
    return s;
  });
  const a = await runStage(knobPredict, { inputs: { scores, models: realized } });
  t.true(Math.abs((a.metrics.spearmanRealized as number) - 1) < 1e-9, `realized ${a.metrics.spearmanRealized}`);
  t.true((a.metrics.spearman as number) > 0.5 && (a.metrics.spearman as number) < 1, `π-based ${a.metrics.spearman}`);
  const b = await runStage(knobPredict, { inputs: { scores, models: expected } });
  t.true(Math.abs((b.metrics.spearman as number) - 1) < 1e-9, `spearman ${b.metrics.spearman}`);
  t.true(Math.abs((b.metrics.pearson as number) - 1) < 1e-6, `pearson ${b.metrics.pearson}`);
  t.is(b.metrics.targets, 3);
  t.is(b.metrics.draws, 40);
  // Predictions are Σ_g π_g G_g; slopes (rates) are the group sums G.
  const groupScores = readNpy(join(b.dir, 'group_scores.npy'));
  const slopes = readNpy(join(b.dir, KNOBS.slopes));
  t.deepEqual(groupScores.shape, [3, 3]);
  t.deepEqual(slopes.data, groupScores.data);
  const pred = readNpy(join(b.dir, KNOBS.predictions));
  const truth = readNpy(join(b.dir, KNOBS.truth));
  for (let i = 0; i < pred.data.length; i++) t.true(Math.abs(pred.data[i] + 3 - truth.data[i]) < 1e-3);
  t.deepEqual(Array.from(readNpy(join(b.dir, KNOBS.targetIndex)).data), [4, 0, 2]);
  t.is(JSON.parse(readFileSync(join(b.dir, KNOBS.meta), 'utf8')).method, 'knob-predict(trak)');
  // scores.npy read in blocks of 2 rows (3 targets: the blocks do not divide them): the same numbers.
  process.env.ATTRIB_SCORES_BLOCK_ROWS = '2';
  const blocked = await runStage(knobPredict, { inputs: { scores, models: expected } }).finally(() => delete process.env.ATTRIB_SCORES_BLOCK_ROWS);
  t.deepEqual(blocked.metrics, b.metrics);
  for (const file of ['group_scores.npy', KNOBS.slopes, KNOBS.predictions]) t.deepEqual(readFileSync(join(blocked.dir, file)), readFileSync(join(b.dir, file)), file);
});

test('beside a knobmodel fitted on the same world, the slopes agree', async (t) => {
  const ds = await data;
  const n = 200;
  const rng = Rng.from('knob-predict-compare');
  const targets = Int32Array.from({ length: nTest }, (_, j) => j);
  const scoresTau = rng.fillNormal(new Float32Array(nTest * n));
  const scores = plantedScores(ds, scoresTau, targets, n);
  const truthOf = (m: Artifact) => {
    const { inclusion, groupOf } = readMasks(m);
    return plantedModels(ds, m, nTest, 1, (k, j) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += inclusion.data[k * 3 + groupOf[i]] * scoresTau[j * n + i];
      return s + 0.01 * rng.normal();
    });
  };
  const fit = truthOf(await knobSubsets(ds, 50, rates, 21));
  const held = truthOf(await knobSubsets(ds, 25, rates, 22));
  const model = await runStage(knobmodel, { inputs: { models: fit, heldout: held }, params: { model: 'linear' } });
  const out = await runStage(knobPredict, { inputs: { scores, models: held, knobmodel: model } });
  t.is(out.metrics.slopeAgreement, 1);
  t.true((out.metrics.slopeCorrelation as number) > 0.99, `slope correlation ${out.metrics.slopeCorrelation}`);
  t.true(Math.abs((out.metrics.spearman as number) - (model.metrics.spearman as number)) < 0.05, `${out.metrics.spearman} vs ${model.metrics.spearman}`);
});

test('scores over another data set are refused', async (t) => {
  const ds = await data;
  const other = await syntheticData(50, nTest, 3);
  const held = await knobSubsets(ds, 5, rates, 31);
  const models = plantedModels(ds, held, nTest, 1, () => 0);
  const scores = plantedScores(other, new Float32Array(2 * 50), Int32Array.from([0, 1]), 50);
  await t.throwsAsync(runStage(knobPredict, { inputs: { scores, models } }), { message: /different data sets/ });
});
