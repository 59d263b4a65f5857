import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LDS } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { lds } from '../../stages/lds.ts';
import { Rng } from '../../lib/random/rng.ts';
import { runStage } from '../helpers/run-stage.ts';
import { dataset, masksArtifact, modelsArtifact, randomMasks, scoresArtifact } from './fakes.ts';

const nTrain = 60;
const nTest = 12;
const nMasks = 40;

/** Ground truth that is exactly linear in the mask: f(x_j; S) = b_j + Σ_{i∈S} w_ji (+ seed noise). */
function world(seeds: number, noise: number) {
  const rng = Rng.from('lds-test');
  const data = dataset();
  const masks = randomMasks(nMasks, nTrain, 0.5, rng);
  const w = rng.fillNormal(new Float32Array(nTest * nTrain));
  const b = rng.fillNormal(new Float32Array(nTest));
  const maskOf = new Int32Array(nMasks * seeds);
  const margins = new Float32Array(nMasks * seeds * nTest);
  for (let k = 0; k < nMasks; k++) {
    for (let j = 0; j < nTest; j++) {
      let f = b[j];
      for (let i = 0; i < nTrain; i++) if (masks[k * nTrain + i]) f += w[j * nTrain + i];
      // Seed noise ±e on seed pairs: large per model, zero in the per-mask mean.
      const e = noise * rng.normal();
      for (let s = 0; s < seeds; s++) {
        maskOf[k * seeds + s] = k;
        margins[(k * seeds + s) * nTest + j] = f + (seeds === 1 ? 0 : s % 2 === 0 ? e : -e);
      }
    }
  }
  const masksA = masksArtifact(data, masks, nMasks, nTrain);
  const models = modelsArtifact(data, masksA, margins, maskOf, nTest, seeds);
  return { data, w, models, rng };
}

function targetScores(w: Float32Array, targets: Int32Array): Float32Array {
  const out = new Float32Array(targets.length * nTrain);
  targets.forEach((t, j) => out.set(w.subarray(t * nTrain, (t + 1) * nTrain), j * nTrain));
  return out;
}

test('the exact linear datamodel scores LDS 1, with per-target .npy and metrics', async (t) => {
  const { data, w, models } = world(1, 0);
  const targets = Int32Array.from([3, 0, 7, 11, 5]);
  const scores = scoresArtifact(data, targetScores(w, targets), targets, nTrain);
  const out = await runStage(lds, { inputs: { scores, models } });
  t.true(Math.abs((out.metrics.lds as number) - 1) < 1e-9);
  t.is(out.metrics.targets, 5);
  t.is(out.metrics.subsets, nMasks);
  t.is(out.metrics.seedsPerSubset, 1);
  t.true((out.metrics.ldsLow as number) <= (out.metrics.lds as number) + 1e-12);
  const perTarget = readNpy(join(out.dir, LDS.perTarget));
  t.deepEqual(perTarget.shape, [5]);
  for (const v of perTarget.data) t.true(Math.abs(v - 1) < 1e-6);
  const meta = JSON.parse(readFileSync(join(out.dir, LDS.meta), 'utf8'));
  t.is(meta.subsets, nMasks);
  t.is(meta.ci.length, 2);
});

test('margins of several seeds are averaged per subset before ranking', async (t) => {
  const { data, w, models } = world(2, 5);
  const targets = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const scores = scoresArtifact(data, targetScores(w, targets), targets, nTrain);
  const out = await runStage(lds, { inputs: { scores, models } });
  t.is(out.metrics.seedsPerSubset, 2);
  t.true(Math.abs((out.metrics.lds as number) - 1) < 1e-6, `lds ${out.metrics.lds}`);
});

test('random scores score about 0, inside their bootstrap interval', async (t) => {
  const { data, models, rng } = world(1, 0);
  const targets = Int32Array.from({ length: nTest }, (_, j) => j);
  const scores = scoresArtifact(data, rng.fillNormal(new Float32Array(nTest * nTrain)), targets, nTrain);
  const out = await runStage(lds, { inputs: { scores, models }, params: { bootstrap: 2000 } });
  const m = out.metrics;
  t.true(Math.abs(m.lds as number) < 0.15, `lds ${m.lds}`);
  t.true((m.ldsLow as number) < (m.lds as number) && (m.lds as number) < (m.ldsHigh as number));
  t.true((m.ldsLow as number) < 0 && (m.ldsHigh as number) > 0, `CI ${m.ldsLow}..${m.ldsHigh}`);
});

test('every target undefined (constant scores): the stage fails with a clear message, writing nothing', async (t) => {
  const { data, models } = world(1, 0);
  const targets = Int32Array.from([0, 1]);
  const scores = scoresArtifact(data, new Float32Array(2 * nTrain), targets, nTrain);
  const dir = join(models.dir, 'never-lds');
  const err = await t.throwsAsync(runStage(lds, { inputs: { scores, models }, dir }));
  t.is(err!.message, 'lds: every one of the 2 targets has an undefined rank correlation (2 with constant predictions, e.g. all-zero scores; 0 with a constant ground-truth margin): there is no LDS to report');
  t.false(existsSync(join(dir, LDS.meta)));
});

test('undefined targets are dropped from the mean and counted; per_target holds NaN for them', async (t) => {
  const { data, w, models } = world(1, 0);
  const targets = Int32Array.from([0, 1, 2]);
  const tau = targetScores(w, targets);
  tau.fill(0, nTrain, 2 * nTrain); // target 1: all-zero scores, a constant prediction
  const scores = scoresArtifact(data, tau, targets, nTrain);
  const out = await runStage(lds, { inputs: { scores, models }, params: { bootstrap: 50 } });
  t.is(out.metrics.undefinedTargets, 1);
  t.is(out.metrics.targets, 3);
  t.true(Math.abs((out.metrics.lds as number) - 1) < 1e-9, 'the mean of the two defined targets (1 each), not 2/3');
  const perTarget = readNpy(join(out.dir, LDS.perTarget)).data;
  t.true(Number.isNaN(perTarget[1]));
  t.true(Math.abs(perTarget[0] - 1) < 1e-6 && Math.abs(perTarget[2] - 1) < 1e-6);
  t.true(Math.abs((out.metrics.ldsLow as number) - 1) < 1e-9 && Math.abs((out.metrics.ldsHigh as number) - 1) < 1e-9);
  t.deepEqual(readNpy(join(out.dir, LDS.predictions)).shape, [3, nMasks]);
  t.deepEqual(readNpy(join(out.dir, LDS.truth)).shape, [3, nMasks]);
  const meta = JSON.parse(readFileSync(join(out.dir, LDS.meta), 'utf8'));
  t.is(meta.resample, 'targets-and-subsets');
  t.is(meta.undefinedTargetsHandling, 'dropped from the mean');
});

test('the two-way interval is wider than the targets-only one on noisy scores', async (t) => {
  const { data, w, models, rng } = world(1, 0);
  const targets = Int32Array.from({ length: nTest }, (_, j) => j);
  const tau = targetScores(w, targets);
  for (let i = 0; i < tau.length; i++) tau[i] += 1.5 * rng.normal();
  const scores = scoresArtifact(data, tau, targets, nTrain);
  const two = await runStage(lds, { inputs: { scores, models }, params: { bootstrap: 400 } });
  const one = await runStage(lds, { inputs: { scores, models }, params: { bootstrap: 400, resample: 'targets' } });
  t.is(two.metrics.lds, one.metrics.lds);
  const width = (m: typeof one.metrics) => (m.ldsHigh as number) - (m.ldsLow as number);
  t.log(`targets only ${one.metrics.ldsLow}..${one.metrics.ldsHigh}, two-way ${two.metrics.ldsLow}..${two.metrics.ldsHigh}`);
  t.true(width(two.metrics) > width(one.metrics));
});

test('scores and models from different data sets are refused with a clear error', async (t) => {
  const { w, models } = world(1, 0);
  const other = dataset({ source: 'fake', train: 61 });
  const targets = Int32Array.from([0]);
  const scores = scoresArtifact(other, targetScores(w, targets), targets, nTrain);
  const dir = join(models.dir, 'never');
  const err = await t.throwsAsync(runStage(lds, { inputs: { scores, models }, dir }));
  t.regex(err!.message, /different data sets: scores → features → models → data .* vs models → data/);
  t.false(existsSync(join(dir, LDS.meta)));
});

test('targets outside the test split and mismatched train sizes are refused', async (t) => {
  const { data, w, models } = world(1, 0);
  const far = scoresArtifact(data, targetScores(w, Int32Array.from([0])), Int32Array.from([nTest]), nTrain);
  await t.throwsAsync(runStage(lds, { inputs: { scores: far, models } }), { message: /test example 12/ });
  const short = scoresArtifact(data, new Float32Array(nTrain - 1), Int32Array.from([0]), nTrain - 1);
  await t.throwsAsync(runStage(lds, { inputs: { scores: short, models } }), { message: /59 train examples but the masks 60/ });
});
