/**
 * linearize: exact gradients (identity projector) against the closed form for
 * multi-class logistic regression and against a per-example loop for an MLP and a CNN;
 * TRAK on those features against its closed form; grad_wrt, target selection, chunking
 * invariance and resume after a kill.
 *
 * Logistic regression closed form: helpers.ts logregGradients.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURES, SCORES } from '../../lib/artifacts.ts';
import { initBackend, tf } from '../../lib/backend.ts';
import type { FeaturesMeta } from '../../lib/attribution/features.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { linearize } from '../../stages/linearize.ts';
import { trak } from '../../stages/trak.ts';
import { runStage } from '../helpers/run-stage.ts';
import { gradientsByLoop } from './grad-reference.ts';
import { datasetArtifact, gram64, logregGradients, modelsArtifact, randomData, relErr, runInTwoPasses, solve, transpose, type HandData } from './helpers.ts';

const backend = process.env.ATTRIB_TEST_BACKEND ?? 'wasm';

async function logregSetup(): Promise<{ data: HandData; models: Awaited<ReturnType<typeof modelsArtifact>>; d: number; C: number }> {
  await initBackend(backend);
  const d = 5;
  const C = 3;
  const data = randomData('linearize-logreg', 30, 10, [d], C);
  const models = await modelsArtifact(datasetArtifact(data), data, { kind: 'logreg' }, 2);
  return { data, models, d, C };
}

test('linearize (identity) = closed-form logistic-regression gradients; trak on them = its closed form', async (t) => {
  const { data, models, d, C } = await logregSetup();
  const params = { projector: { kind: 'identity' }, targets: { split: 'test', count: 6 }, chunk: 7, batchSize: 4 };
  const out = await runStage(linearize, { params, inputs: { models: models.artifact } });
  t.is(out.units, 2 * (5 + 1));
  const meta = JSON.parse(readFileSync(join(out.dir, FEATURES.meta), 'utf8')) as FeaturesMeta;
  const k = (d + 1) * C;
  t.like(meta, { models: 2, k, nTrain: 30, nTargets: 6, params: k });
  t.deepEqual(Array.from(readNpy(join(out.dir, FEATURES.targetIndex)).data), [0, 1, 2, 3, 4, 5]);
  const probs = readNpy(join(out.dir, FEATURES.probsTrain));
  t.deepEqual(probs.shape, [2, 30]);
  const phi: Float64Array[] = [];
  const phiT: Float64Array[] = [];
  const ps: Float64Array[] = [];
  for (let s = 0; s < 2; s++) {
    const net = models.networks[s];
    const train = logregGradients(net, data.xTrain, data.yTrain, d, C);
    const targets = logregGradients(net, data.xTest.subarray(0, 6 * d), data.yTest.subarray(0, 6), d, C);
    const got = readNpy(join(out.dir, FEATURES.train(s)));
    t.deepEqual(got.shape, [30, k]);
    t.true(relErr(got.data as Float32Array, train.g) < 1e-5, `train_${s}: ${relErr(got.data as Float32Array, train.g)}`);
    t.true(relErr(readNpy(join(out.dir, FEATURES.targets(s))).data as Float32Array, targets.g) < 1e-5);
    t.true(relErr((probs.data as Float32Array).subarray(s * 30, (s + 1) * 30), train.p) < 1e-5);
    phi.push(train.g);
    phiT.push(targets.g);
    ps.push(train.p);
  }

  // TRAK: τ(x)_i = [1/S Σ_s φ_s(x)ᵀ(Φ_sᵀΦ_s + λ_s I)⁻¹φ_{s,i}] · [1/S Σ_s (1 − p_{s,i})], closed-form φ.
  const scores = await runStage(trak, { params: { lambda: { relative: 0.1 } }, inputs: { features: out } });
  const n = 30;
  const m = 6;
  const ref = new Float64Array(m * n);
  for (let s = 0; s < 2; s++) {
    const g = gram64(phi[s], n, k);
    let trace = 0;
    for (let a = 0; a < k; a++) trace += g[a * k + a];
    for (let a = 0; a < k; a++) g[a * k + a] += (0.1 * trace) / k;
    const y = solve(g, transpose(phiT[s], m, k), k, m);
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let a = 0; a < k; a++) v += y[a * m + j] * phi[s][i * k + a];
        ref[j * n + i] += (v / 2) * (1 - (ps[0][i] + ps[1][i]) / 2);
      }
    }
  }
  const tau = readNpy(join(scores.dir, SCORES.scores)).data as Float32Array;
  t.true(relErr(tau, ref) < 2e-3, `trak vs closed form: ${relErr(tau, ref)}`);
});

test('linearize gathers explicit target indices', async (t) => {
  const { data, models, d, C } = await logregSetup();
  const out = await runStage(linearize, { params: { projector: { kind: 'identity' }, targets: { indices: [7, 2, 5] } }, inputs: { models: models.artifact } });
  t.deepEqual(Array.from(readNpy(join(out.dir, FEATURES.targetIndex)).data), [7, 2, 5]);
  const rows = [7, 2, 5];
  const x = new Float32Array(rows.flatMap((r) => Array.from(data.xTest.subarray(r * d, (r + 1) * d))));
  const y = Int32Array.from(rows, (r) => data.yTest[r]);
  const ref = logregGradients(models.networks[1], x, y, d, C);
  t.true(relErr(readNpy(join(out.dir, FEATURES.targets(1))).data as Float32Array, ref.g) < 1e-5);
  await t.throwsAsync(runStage(linearize, { params: { projector: { kind: 'identity' }, targets: { indices: [10] } }, inputs: { models: models.artifact } }), {
    message: /targets.indices contains 10, but the test split has 10 examples/,
  });
});

test('linearize of a CNN and an MLP = per-example loop; grad_wrt keeps only the named layers', async (t) => {
  await initBackend(backend);
  for (const [spec, shape] of [
    [{ kind: 'cnn', channels: [2], kernel: 3, pool: 2, hidden: [3] }, [4, 4, 1]],
    [{ kind: 'mlp', hidden: [4] }, [6]],
  ] as const) {
    const data = randomData(`linearize-${spec.kind}`, 9, 4, [...shape], 3);
    const models = await modelsArtifact(datasetArtifact(data), data, spec as unknown as { kind: string }, 1);
    const full = await runStage(linearize, { params: { projector: { kind: 'identity' }, chunk: 4, batchSize: 3 }, inputs: { models: models.artifact } });
    const net = models.networks[0];
    const x = tf.tensor(data.xTrain, [9, ...shape]);
    const loop = gradientsByLoop(net, x, tf.tensor1d(data.yTrain, 'int32'));
    x.dispose();
    const phi = readNpy(join(full.dir, FEATURES.train(0)));
    t.deepEqual(phi.shape, [9, net.numParams]);
    const ref = new Float64Array(loop.flatMap((g) => Array.from(g)));
    t.true(relErr(phi.data as Float32Array, ref) < 1e-4, `${spec.kind}: ${relErr(phi.data as Float32Array, ref)}`);

    const last = net.layers[net.layers.length - 1];
    const part = await runStage(linearize, { params: { projector: { kind: 'identity' }, grad_wrt: [last.name] }, inputs: { models: models.artifact } });
    const size = (last.inDim + 1) * last.outDim;
    const sliced = new Float64Array(loop.flatMap((g) => Array.from(g.subarray(net.numParams - size))));
    t.true(relErr(readNpy(join(part.dir, FEATURES.train(0))).data as Float32Array, sliced) < 1e-4);
    t.like(JSON.parse(readFileSync(join(part.dir, FEATURES.meta), 'utf8')), { k: size, params: size, layers: [{ name: last.name }] });
    await t.throwsAsync(runStage(linearize, { params: { projector: { kind: 'identity' }, grad_wrt: ['nope'] }, inputs: { models: models.artifact } }), {
      message: /grad_wrt: no layer named "nope"/,
    });
  }
});

test('linearize: chunk and batch sizes do not change the features; a projected dim is required', async (t) => {
  const { models } = await logregSetup();
  const projector = { kind: 'kronecker', dim: 8, seed: 3 };
  const a = await runStage(linearize, { params: { projector, chunk: 4, batchSize: 3 }, inputs: { models: models.artifact } });
  const b = await runStage(linearize, { params: { projector, chunk: 100, batchSize: 64 }, inputs: { models: models.artifact } });
  for (const file of [FEATURES.train(0), FEATURES.train(1), FEATURES.targets(1), FEATURES.probsTrain]) {
    t.true(relErr(readNpy(join(a.dir, file)).data as Float32Array, readNpy(join(b.dir, file)).data as Float32Array) < 1e-5, file);
  }
  t.is(readNpy(join(a.dir, FEATURES.train(0))).shape[1], 8);
  t.throws(() => linearize.params.parse({ projector: { kind: 'gaussian' } }), { message: /projector.dim is required/ });
});

test('linearize resumes after a kill: finished units are kept, the result is the same', async (t) => {
  const { models } = await logregSetup();
  const params = { projector: { kind: 'gaussian', dim: 6, seed: 1 }, chunk: 8, targets: { split: 'test', count: 5 } };
  const once = await runStage(linearize, { params, inputs: { models: models.artifact } });
  const twice = await runInTwoPasses(linearize, { params, inputs: { models: models.artifact }, first: [0, 2, 5] });
  t.deepEqual(twice.after, twice.before, 'the second pass did not rewrite finished units');
  for (const file of [FEATURES.train(0), FEATURES.train(1), FEATURES.targets(0), FEATURES.targets(1), FEATURES.probsTrain, FEATURES.targetIndex]) {
    t.deepEqual(readNpy(join(twice.dir, file)).data, readNpy(join(once.dir, file)).data, file);
  }
});

test('linearize checkpoints: each (model, checkpoint) is a feature set, model-major, at that checkpoint\'s weights; models: S counts runs', async (t) => {
  await initBackend(backend);
  const d = 4;
  const C = 3;
  const data = randomData('linearize-checkpoints', 12, 5, [d], C);
  const checkpoints = [
    { epoch: 2, lr: 0.1 },
    { epoch: 4, lr: 0.05 },
  ];
  const models = await modelsArtifact(datasetArtifact(data), data, { kind: 'logreg' }, 2, checkpoints);
  const params = { projector: { kind: 'identity' }, targets: { split: 'test', count: 5 }, chunk: 5, checkpoints: [2, 4] };
  const out = await runStage(linearize, { params, inputs: { models: models.artifact } });
  const meta = JSON.parse(readFileSync(join(out.dir, FEATURES.meta), 'utf8')) as FeaturesMeta;
  t.like(meta, { models: 4, checkpoints: [2, 4], nTrain: 12, nTargets: 5 });
  t.like(out.metrics, { models: 4, checkpoints: 2 });
  // modelsArtifact lists per model its checkpoints, then its final network: set s·2 + c is networks[s·3 + c].
  const probs = readNpy(join(out.dir, FEATURES.probsTrain));
  t.deepEqual(probs.shape, [4, 12]);
  for (let s = 0; s < 2; s++) {
    for (let c = 0; c < 2; c++) {
      const set = s * 2 + c;
      const ref = logregGradients(models.networks[s * 3 + c], data.xTrain, data.yTrain, d, C);
      t.true(relErr(readNpy(join(out.dir, FEATURES.train(set))).data as Float32Array, ref.g) < 1e-5, `set ${set}`);
      t.true(relErr((probs.data as Float32Array).subarray(set * 12, (set + 1) * 12), ref.p) < 1e-5);
    }
  }
  // trak's models: 1 is the first training run: both of its checkpoints.
  const one = await runStage(trak, { params: { lambda: { relative: 0.1 }, models: 1 }, inputs: { features: out } });
  t.is(one.units, 2);
  const all = await runStage(trak, { params: { lambda: { relative: 0.1 } }, inputs: { features: out } });
  t.is(all.units, 4);
  await t.throwsAsync(runStage(trak, { params: { models: 3 }, inputs: { features: out } }), { message: 'trak: models: 3, but the features hold 2 model(s)' });
  // A checkpoint the models did not save is named.
  await t.throwsAsync(runStage(linearize, { params: { ...params, checkpoints: [3] }, inputs: { models: models.artifact } }), {
    message: /^linearize: checkpoints 3 were not saved \(saved: 2, 4\) by the models \(.*\); train them with checkpoints: \[epochs\] or \{every: k\}$/,
  });
});
