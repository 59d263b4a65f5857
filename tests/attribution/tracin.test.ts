/**
 * tracin against its closed form on logistic regression with identity features:
 *     τ(x)_i = (1/S) Σ_s Σ_t η_t (1 − p_{s,t,i}) g_{s,t}(x)ᵀ g_{s,t,i}
 * and resume after a kill (trak and tracin).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCORES } from '../../lib/artifacts.ts';
import { initBackend } from '../../lib/backend.ts';
import { tracin } from '../../stages/tracin.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { trak } from '../../stages/trak.ts';
import { runStage } from '../helpers/run-stage.ts';
import { datasetArtifact, featuresArtifact, logregGradients, modelsArtifact, randomData, randomFeatures, relErr, runInTwoPasses } from './helpers.ts';

const backend = process.env.ATTRIB_TEST_BACKEND ?? 'wasm';

test('tracin = Σ over checkpoints of η_t (1 − p) gradient dot products, averaged over models', async (t) => {
  await initBackend(backend);
  const d = 4;
  const C = 3;
  const data = randomData('tracin', 12, 5, [d], C);
  const checkpoints = [
    { epoch: 1, lr: 0.1 },
    { epoch: 3, lr: 0.02 },
  ];
  const models = await modelsArtifact(datasetArtifact(data), data, { kind: 'logreg' }, 2, checkpoints);
  const out = await runStage(tracin, { params: { projector: { kind: 'identity' }, targets: { indices: [4, 0, 2] }, chunk: 5, topK: 2 }, inputs: { models: models.artifact } });
  t.is(out.units, 4);
  const rows = [4, 0, 2];
  const xT = new Float32Array(rows.flatMap((r) => Array.from(data.xTest.subarray(r * d, (r + 1) * d))));
  const yT = Int32Array.from(rows, (r) => data.yTest[r]);
  const k = (d + 1) * C;
  // The closed form over the first S models; modelsArtifact pushes, per model, its checkpoints then its final network.
  const reference = (S: number) => {
    const ref = new Float64Array(3 * 12);
    for (let s = 0; s < S; s++) {
      checkpoints.forEach((c, ci) => {
        const net = models.networks[s * 3 + ci];
        const train = logregGradients(net, data.xTrain, data.yTrain, d, C);
        const targets = logregGradients(net, xT, yT, d, C);
        for (let j = 0; j < 3; j++) {
          for (let i = 0; i < 12; i++) {
            let v = 0;
            for (let a = 0; a < k; a++) v += targets.g[j * k + a] * train.g[i * k + a];
            ref[j * 12 + i] += (c.lr * (1 - train.p[i]) * v) / S;
          }
        }
      });
    }
    return ref;
  };
  const ref = reference(2);
  const scores = readNpy(join(out.dir, SCORES.scores));
  t.deepEqual(scores.shape, [3, 12]);
  t.true(relErr(scores.data as Float32Array, ref) < 1e-4, `${relErr(scores.data as Float32Array, ref)}`);
  t.deepEqual(Array.from(readNpy(join(out.dir, SCORES.targetIndex)).data), [4, 0, 2]);
  t.like(JSON.parse(readFileSync(join(out.dir, SCORES.meta), 'utf8')), { method: 'tracin', checkpoints: [1, 3], lr: [0.1, 0.02] });
  t.like(out.metrics, { targets: 3, train: 12, models: 2, checkpoints: 2 });

  const one = await runStage(tracin, { params: { projector: { kind: 'identity' }, checkpoints: [3] }, inputs: { models: models.artifact } });
  t.is(one.units, 2);
  await t.throwsAsync(runStage(tracin, { params: { projector: { kind: 'identity' }, checkpoints: [2] }, inputs: { models: models.artifact } }), { message: /checkpoints 2 were not saved \(saved: 1, 3\)/ });

  // models: 1 is the closed form of the first model alone; more models than trained fail.
  const first = await runStage(tracin, { params: { projector: { kind: 'identity' }, targets: { indices: [4, 0, 2] }, models: 1 }, inputs: { models: models.artifact } });
  t.is(first.units, 2);
  t.like(first.metrics, { models: 1, checkpoints: 2 });
  const firstScores = readNpy(join(first.dir, SCORES.scores)).data as Float32Array;
  t.true(relErr(firstScores, reference(1)) < 1e-4, `${relErr(firstScores, reference(1))}`);
  t.true(relErr(firstScores, ref) > 1e-2, 'the second model changes the scores');
  await t.throwsAsync(runStage(tracin, { params: { projector: { kind: 'identity' }, models: 5 }, inputs: { models: models.artifact } }), {
    message: /^tracin: models: 5, but the models input \(train [^)]+\) holds 2 model\(s\)$/,
  });
  const plain = await modelsArtifact(datasetArtifact(data), data, { kind: 'logreg' }, 1);
  await t.throwsAsync(runStage(tracin, { params: { projector: { kind: 'identity' } }, inputs: { models: plain.artifact } }), { message: /saved no checkpoints/ });
});

test('trak and tracin resume after a kill: finished units are kept, the scores are the same', async (t) => {
  await initBackend(backend);
  const features = featuresArtifact(randomFeatures('resume', 3, 25, 4, 6));
  const once = await runStage(trak, { inputs: { features } });
  const twice = await runInTwoPasses(trak, { inputs: { features }, first: [1] });
  t.deepEqual(twice.after, twice.before);
  t.deepEqual(readNpy(join(twice.dir, SCORES.scores)).data, readNpy(join(once.dir, SCORES.scores)).data);

  const data = randomData('tracin-resume', 10, 4, [3], 2);
  const models = await modelsArtifact(datasetArtifact(data), data, { kind: 'logreg' }, 2, [{ epoch: 2, lr: 0.5 }]);
  const params = { projector: { kind: 'rademacher', dim: 5, seed: 9 } };
  const a = await runStage(tracin, { params, inputs: { models: models.artifact } });
  const b = await runInTwoPasses(tracin, { params, inputs: { models: models.artifact }, first: [0] });
  t.deepEqual(b.after, b.before);
  t.deepEqual(readNpy(join(b.dir, SCORES.scores)).data, readNpy(join(a.dir, SCORES.scores)).data);
});
