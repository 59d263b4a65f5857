/** knobmodel: recovery of a planted map θ → output, CV model choice, held-out scoring. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { KNOBS } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { knobmodel } from '../../stages/knobmodel.ts';
import { Rng } from '../../lib/random/rng.ts';
import { subsets } from '../../stages/subsets.ts';
import { runStage } from '../helpers/run-stage.ts';
import { knobSubsets, plantedModels, readMasks, syntheticData } from './helpers.ts';

const nTest = 12;
const d = 3;
let data: Promise<Artifact>;
test.before(() => {
  data = syntheticData(300, nTest, d);
});

const rates = { groups: { by: 'label' }, prior: { kind: 'uniform', low: 0.1, high: 1 } };
const mixture = { groups: { by: 'label' }, prior: { kind: 'dirichlet' }, mode: 'mixture', total: 90 };

/** A planted output per test example: b_t + Σ_g W_tg θ_g (+ quadratic terms), with noise. */
function world(seed: string) {
  const rng = Rng.from('knobmodel-test', seed);
  const b = rng.fillNormal(new Float64Array(nTest));
  const w = rng.fillNormal(new Float64Array(nTest * d), 2);
  const q = rng.fillNormal(new Float64Array(nTest * d * d), 3);
  return { rng, b, w, q };
}

/** Models over `masks` whose margins follow `f(θ, t)` plus per-seed noise ±e that cancels in the per-draw mean, plus noise σ. */
function modelsFor(ds: Artifact, masks: Artifact, seeds: number, f: (theta: Float32Array, t: number) => number, rng: Rng, sigma: number) {
  const { theta } = readMasks(masks);
  const noise = new Map<string, number>();
  return plantedModels(ds, masks, nTest, seeds, (k, t, s) => {
    const key = `${k},${t}`;
    if (!noise.has(key)) noise.set(key, rng.normal());
    const e = seeds > 1 ? (s % 2 === 0 ? 1 : -1) * noise.get(key)! : 0;
    return f(theta.data.subarray(k * d, (k + 1) * d) as Float32Array, t) + e + sigma * rng.normal();
  });
}

test('a planted linear map is recovered: slopes, intercepts, held-out Spearman and R² near 1', async (t) => {
  const ds = await data;
  const { rng, b, w } = world('linear');
  const f = (th: Float32Array, j: number) => b[j] + w[j * d] * th[0] + w[j * d + 1] * th[1] + w[j * d + 2] * th[2];
  const fitMasks = await knobSubsets(ds, 60, rates, 1);
  const heldMasks = await knobSubsets(ds, 30, rates, 2);
  const models = modelsFor(ds, fitMasks, 2, f, rng, 0.01);
  const heldout = modelsFor(ds, heldMasks, 2, f, rng, 0.01);
  const out = await runStage(knobmodel, { inputs: { models, heldout }, params: { model: 'linear' } });
  const m = out.metrics;
  t.true((m.spearman as number) > 0.95, `spearman ${m.spearman}`);
  t.true((m.r2 as number) > 0.98, `r2 ${m.r2}`);
  t.is(m.targets, nTest);
  t.is(m.draws, 30);
  t.is(m.trainDraws, 60);
  t.is(m.seedsPerDraw, 2);
  t.is(m.quadraticTargets, 0);
  const slopes = readNpy(join(out.dir, KNOBS.slopes));
  t.deepEqual(slopes.shape, [nTest, d]);
  for (let i = 0; i < nTest * d; i++) t.true(Math.abs(slopes.data[i] - w[i]) < 0.05, `slope ${i}: ${slopes.data[i]} vs ${w[i]}`);
  const intercept = readNpy(join(out.dir, 'intercept.npy')).data;
  for (let j = 0; j < nTest; j++) t.true(Math.abs(intercept[j] - b[j]) < 0.05, `intercept ${j}: ${intercept[j]} vs ${b[j]}`);
  const pred = readNpy(join(out.dir, KNOBS.predictions));
  const truth = readNpy(join(out.dir, KNOBS.truth));
  t.deepEqual(pred.shape, [nTest, 30]);
  t.deepEqual(truth.shape, [nTest, 30]);
  const heldTheta = readMasks(heldMasks).theta.data as Float32Array;
  for (let k = 0; k < 30; k++) t.true(Math.abs(truth.data[3 * 30 + k] - f(heldTheta.subarray(k * d, (k + 1) * d), 3)) < 0.05, 'truth = per-draw mean over seeds');
  const meta = JSON.parse(readFileSync(join(out.dir, KNOBS.meta), 'utf8'));
  t.deepEqual(meta.knobNames, ['class 0', 'class 1', 'class 2']);
  t.is(meta.method, 'knobmodel');
  t.false(meta.slopesCentered);
  t.truthy(meta.slopesByClass);
});

test('auto picks quadratic features for a quadratic map and beats the linear model on it', async (t) => {
  const ds = await data;
  const { rng, b, w, q } = world('quadratic');
  const f = (th: Float32Array, j: number) => {
    let y = b[j];
    for (let a = 0; a < d; a++) {
      y += w[j * d + a] * th[a];
      for (let c = 0; c < d; c++) y += q[(j * d + a) * d + c] * th[a] * th[c];
    }
    return y;
  };
  const fitMasks = await knobSubsets(ds, 80, rates, 3);
  const heldMasks = await knobSubsets(ds, 30, rates, 4);
  const models = modelsFor(ds, fitMasks, 1, f, rng, 0.01);
  const heldout = modelsFor(ds, heldMasks, 1, f, rng, 0.01);
  const auto = await runStage(knobmodel, { inputs: { models, heldout } });
  const linear = await runStage(knobmodel, { inputs: { models, heldout }, params: { model: 'linear' } });
  t.true((auto.metrics.quadraticTargets as number) >= nTest - 1, `${auto.metrics.quadraticTargets} of ${nTest} chose quadratic`);
  t.true((auto.metrics.r2 as number) > 0.98, `auto r2 ${auto.metrics.r2}`);
  t.true((auto.metrics.r2 as number) > (linear.metrics.r2 as number), `auto ${auto.metrics.r2} vs linear ${linear.metrics.r2}`);
  t.true((auto.metrics.spearman as number) >= (linear.metrics.spearman as number));
  t.deepEqual(Array.from(readNpy(join(auto.dir, 'feature_map.npy')).data).filter((v) => v === 1).length, auto.metrics.quadraticTargets);
});

test('without a heldout input a fraction of the draws is held out; mixture slopes are centered over the knobs', async (t) => {
  const ds = await data;
  const { rng, b, w } = world('mixture');
  const f = (th: Float32Array, j: number) => b[j] + w[j * d] * th[0] + w[j * d + 1] * th[1] + w[j * d + 2] * th[2];
  const masks = await knobSubsets(ds, 80, mixture, 5);
  const models = modelsFor(ds, masks, 1, f, rng, 0.01);
  const out = await runStage(knobmodel, { inputs: { models }, params: { heldOut: 0.25, model: 'linear', targets: { indices: [0, 5, 7] } } });
  t.is(out.metrics.draws, 20);
  t.is(out.metrics.trainDraws, 60);
  t.is(out.metrics.targets, 3);
  t.true((out.metrics.spearman as number) > 0.95, `spearman ${out.metrics.spearman}`);
  t.deepEqual(Array.from(readNpy(join(out.dir, KNOBS.targetIndex)).data), [0, 5, 7]);
  const slopes = readNpy(join(out.dir, KNOBS.slopes)).data;
  [0, 5, 7].forEach((target, j) => {
    const centered = [0, 1, 2].map((g) => w[target * d + g] - (w[target * d] + w[target * d + 1] + w[target * d + 2]) / 3);
    for (let g = 0; g < d; g++) t.true(Math.abs(slopes[j * d + g] - centered[g]) < 0.05, `target ${target} knob ${g}: ${slopes[j * d + g]} vs ${centered[g]}`);
  });
  t.true(JSON.parse(readFileSync(join(out.dir, KNOBS.meta), 'utf8')).slopesCentered);
});

test('models trained on plain subsets are refused with a clear message', async (t) => {
  const ds = await data;
  const plain = await runStage(subsets, { params: { count: 6 }, inputs: { data: ds } });
  const models = plantedModels(ds, plain, nTest, 1, () => 0);
  await t.throwsAsync(runStage(knobmodel, { inputs: { models } }), { message: /no knob settings \(theta\.npy\)/ });
});
