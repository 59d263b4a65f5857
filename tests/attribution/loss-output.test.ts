/**
 * The training loss as a model output (dattri's choice for its LDS target and its
 * Grad-Dot / TracIn gradients): perExampleLoss against float64 softplus(−f) and
 * torch's float32 saturation to exactly 0; train records it per model and example;
 * linearize `output: loss` gives ∇θ ℓ (against central finite differences of ℓ, and
 * as −(1 − p)·∇θ f against the margin features of the same models).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURES, MODELS } from '../../lib/artifacts.ts';
import type { FeaturesMeta } from '../../lib/attribution/features.ts';
import { initBackend, tf } from '../../lib/backend.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { margin, perExampleLoss } from '../../lib/models/index.ts';
import { Rng } from '../../lib/random/rng.ts';
import { dataset } from '../../stages/dataset.ts';
import { influence } from '../../stages/influence.ts';
import { linearize } from '../../stages/linearize.ts';
import { trak } from '../../stages/trak.ts';
import { subsets } from '../../stages/subsets.ts';
import { train } from '../../stages/train.ts';
import { runStage } from '../helpers/run-stage.ts';
import { finiteDifferences } from './grad-reference.ts';
import { datasetArtifact, modelsArtifact, randomData } from './helpers.ts';

test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
});

const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

test('perExampleLoss = −log softmax_y = softplus(−margin); a confident example rounds to exactly 0 in float32, as torch does', (t) => {
  const logits = tf.tensor2d([[1, 2, 3], [0.5, -1, 4], [40, 0, 0], [40, 0, 0]]);
  const labels = tf.tensor1d([0, 2, 0, 1], 'int32');
  const loss = perExampleLoss(logits, labels).dataSync();
  const f = margin(logits, labels).dataSync();
  for (let i = 0; i < 2; i++) t.true(Math.abs(loss[i] - softplus(-f[i])) < 1e-6, `row ${i}: ${loss[i]} vs ${softplus(-f[i])}`);
  t.is(loss[0], Math.fround(loss[0]));
  t.true(Math.abs(loss[0] - (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 1)) < 1e-6);
  t.is(loss[2], 0); // log(1 + 2e−40) is 0 in float32
  t.true(Math.abs(loss[3] - 40) < 1e-5);
  tf.dispose([logits, labels]);
});

test('train records every model\'s per-example loss beside its margins', async (t) => {
  const data = await runStage(dataset, { params: { source: { kind: 'synthetic', dim: 4, classes: 3, n: 90, separation: 3 }, train: 60, test: 30 } });
  const masks = await runStage(subsets, { params: { count: 2, alpha: 0.5 }, inputs: { data } });
  const models = await runStage(train, {
    params: { model: { kind: 'mlp', hidden: [8], dropout: 0.1 }, fit: { epochs: 2, batchSize: 16, optimizer: { kind: 'sgd', lr: 0.1 } } },
    inputs: { data, masks },
  });
  for (const [lossFile, marginFile, n] of [[MODELS.lossesTest, MODELS.marginsTest, 30], [MODELS.lossesTrain, MODELS.marginsTrain, 60]] as const) {
    const losses = readNpy(join(models.dir, lossFile));
    t.deepEqual(losses.shape, [2, n]);
    const margins = readNpy(join(models.dir, marginFile)).data as Float32Array;
    (losses.data as Float32Array).forEach((l, i) => t.true(Math.abs(l - softplus(-margins[i])) < 1e-5 * Math.max(1, l), `${lossFile}[${i}]: ${l} vs softplus(−f) ${softplus(-margins[i])}`));
  }
});

test('linearize output: loss = ∇θ ℓ (finite differences) = −(1 − p)·∇θ f; meta records the output', async (t) => {
  const data = randomData('loss-output', 12, 5, [4], 3);
  const models = await modelsArtifact(datasetArtifact(data), data, { kind: 'mlp', hidden: [5], activation: 'tanh' } as { kind: string }, 2);
  const base = { projector: { kind: 'identity' }, targets: { split: 'test', count: 5 }, chunk: 5, batchSize: 4 };
  const loss = await runStage(linearize, { params: { ...base, output: 'loss' }, inputs: { models: models.artifact } });
  const plain = await runStage(linearize, { params: base, inputs: { models: models.artifact } });
  const meta = JSON.parse(readFileSync(join(loss.dir, FEATURES.meta), 'utf8')) as FeaturesMeta;
  t.is(meta.output, 'loss');
  t.is((JSON.parse(readFileSync(join(plain.dir, FEATURES.meta), 'utf8')) as FeaturesMeta).output, 'margin');
  const k = meta.k;
  const rng = Rng.from('loss-output-params');
  const params = Array.from({ length: 10 }, () => rng.int(k));
  for (let s = 0; s < 2; s++) {
    const net = models.networks[s];
    const x = tf.tensor2d(data.xTrain, [12, 4]);
    const y = tf.tensor1d(data.yTrain, 'int32');
    const fd = finiteDifferences(net, x, y, params, perExampleLoss);
    const phi = readNpy(join(loss.dir, FEATURES.train(s))).data as Float32Array;
    const phiMargin = readNpy(join(plain.dir, FEATURES.train(s))).data as Float32Array;
    const p = (readNpy(join(plain.dir, FEATURES.probsTrain)).data as Float32Array).subarray(s * 12, (s + 1) * 12);
    let scale = 0;
    let fdErr = 0;
    let identityErr = 0;
    for (let i = 0; i < 12; i++) {
      params.forEach((j, c) => {
        scale = Math.max(scale, Math.abs(fd[i][c]));
        fdErr = Math.max(fdErr, Math.abs(phi[i * k + j] - fd[i][c]));
      });
      for (let j = 0; j < k; j++) identityErr = Math.max(identityErr, Math.abs(phi[i * k + j] + (1 - p[i]) * phiMargin[i * k + j]));
    }
    t.true(scale > 1e-3, 'the checked gradients are not all zero');
    t.true(fdErr <= 2e-2 * scale, `model ${s}: ∇ℓ vs finite differences: max error ${fdErr} (max |∇ℓ| ${scale})`);
    t.true(identityErr < 1e-5, `model ${s}: ∇ℓ vs −(1 − p)∇f: ${identityErr}`);
    tf.dispose([x, y]);
  }
});

test('trak and influence refuse loss-gradient features (their (1 − p) weighting assumes margin gradients)', async (t) => {
  const data = randomData('loss-output-refused', 12, 5, [4], 3);
  const models = await modelsArtifact(datasetArtifact(data), data, { kind: 'logreg' } as { kind: string }, 1);
  const params = { projector: { kind: 'identity' }, targets: { split: 'test', count: 5 }, chunk: 12, batchSize: 4, output: 'loss' };
  const loss = await runStage(linearize, { params, inputs: { models: models.artifact } });
  for (const [kind, stage] of [['trak', trak], ['influence', influence]] as const) {
    const e = await t.throwsAsync(runStage(stage, { params: {}, inputs: { features: loss } }));
    t.regex(e!.message, new RegExp(`^${kind}: its features input \\(linearize [0-9a-f]{12}\\) holds loss gradients \\(output: loss\\); ${kind} needs margin gradients`));
  }
});
