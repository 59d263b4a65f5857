/**
 * The train kind on tiny synthetic data: artifact layout, margins/probs, seeds per mask,
 * determinism, checkpoints with their learning rates, and resume of a killed stage
 * (finished models are not retrained).
 */
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { paramsSchema, type Artifact, type CombineContext, type UnitKind } from '../../pipeline/registry.ts';
import { MODELS } from '../../lib/artifacts.ts';
import { initBackend, tf } from '../../lib/backend.ts';
import { dataset } from '../../stages/dataset.ts';
import { loadDataset } from '../../lib/data/index.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { evaluate, listCheckpoints, loadModel, loadNetwork } from '../../lib/models/index.ts';
import { subsets } from '../../stages/subsets.ts';
import { train } from '../../stages/train.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';
import { builtinModels, builtins } from '../helpers/builtins.ts';

const recipe = {
  model: { kind: 'mlp', hidden: [16] },
  fit: { epochs: 4, batchSize: 32, optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 } },
};

let data: Promise<Artifact>;
let masks: Promise<Artifact>;
test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
  data = runStage(dataset, { params: { source: { kind: 'synthetic', dim: 5, classes: 3, n: 260, separation: 3 }, train: 200, test: 60 } });
  masks = runStage(subsets, { params: { count: 2, alpha: 0.5 }, inputs: { data: await data } });
});

const npy = (a: { dir: string }, name: string) => readNpy(join(a.dir, name));

test('trains seeds × masks models and stores margins/probs [models × examples]', async (t) => {
  const inputs = { data: await data, masks: await masks };
  const a = await runStage(train, { params: { ...recipe, seeds: 2 }, inputs });
  t.is(a.units, 4);
  t.like(a.metrics, { models: 4, masks: 2, seeds: 2 });
  t.true((a.metrics.testAccuracy as number) > 0.85, `test accuracy ${a.metrics.testAccuracy}`);
  t.true((a.metrics.trainAccuracy as number) > 0.85);
  t.is(typeof a.metrics.heldOutAccuracy, 'number');
  t.is(a.outcome.info?.backend, process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
  t.deepEqual(npy(a, MODELS.marginsTrain).shape, [4, 200]);
  t.deepEqual(npy(a, MODELS.marginsTest).shape, [4, 60]);
  t.deepEqual(Array.from(npy(a, MODELS.maskOf).data), [0, 0, 1, 1]);
  t.deepEqual(Array.from(npy(a, MODELS.seedOf).data), [0, 1, 0, 1]);
  const margins = npy(a, MODELS.marginsTest).data as Float32Array;
  const probs = npy(a, MODELS.probsTest).data as Float32Array;
  for (let i = 0; i < margins.length; i += 17) t.true(Math.abs(probs[i] - 1 / (1 + Math.exp(-margins[i]))) < 1e-5);
  t.notDeepEqual(margins.subarray(0, 60), margins.subarray(60, 120), 'two seeds of one mask are different models');
  const meta = JSON.parse(readFileSync(join(a.dir, MODELS.meta), 'utf8'));
  t.like(meta, { models: 4, seeds: 2, masks: 2, nTrain: 200, nTest: 60 });
  t.is(meta.testAccuracy.length, 4);
  // The saved model reproduces the stored margins.
  const net = loadModel(builtinModels(), a.dir, 3);
  const ds = loadDataset((await data).dir);
  const x = tf.tensor(ds.xTest, [60, 5]);
  const again = evaluate(net, x, ds.yTest);
  t.true(again.margins.every((m, i) => Math.abs(m - margins[3 * 60 + i]) < 1e-4));
  t.is(again.accuracy, meta.testAccuracy[3]);
  x.dispose();
  net.dispose();
});

test('training is deterministic given the seed', async (t) => {
  const inputs = { data: await data, masks: await masks };
  const params = { ...recipe, fit: { ...recipe.fit, epochs: 2, optimizer: { kind: 'adam', lr: 0.01 } } };
  const a = await runStage(train, { params, inputs });
  const b = await runStage(train, { params, inputs });
  const c = await runStage(train, { params, inputs, seed: 5 });
  t.deepEqual(npy(a, MODELS.marginsTrain), npy(b, MODELS.marginsTrain));
  t.notDeepEqual(npy(a, MODELS.marginsTrain).data, npy(c, MODELS.marginsTrain).data);
});

test('checkpoints keep the weights of chosen epochs with the learning rate used in them', async (t) => {
  const inputs = { data: await data, masks: await masks };
  const a = await runStage(train, { params: { ...recipe, fit: { ...recipe.fit, schedule: 'linear' }, checkpoints: { every: 2 } }, inputs });
  const dir = join(a.dir, MODELS.checkpointDir(1, 2));
  t.deepEqual(readdirSync(join(a.dir, 'units', '1', 'checkpoints')).sort(), ['2', '4']);
  const c2 = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
  const c4 = JSON.parse(readFileSync(join(a.dir, MODELS.checkpointDir(1, 4), 'checkpoint.json'), 'utf8'));
  // Linear decay over 4 epochs of 4 steps, at step midpoints: epoch 2 averages 0.1·(1 − u) over u = 4.5/16..7.5/16.
  t.true(Math.abs(c2.lr - 0.1 * (1 - 6 / 16)) < 1e-9, `lr ${c2.lr}`);
  t.true(c4.lr < c2.lr);
  const meta = JSON.parse(readFileSync(join(a.dir, MODELS.meta), 'utf8'));
  t.deepEqual(meta.checkpoints.map((c: { epoch: number }) => c.epoch), [2, 4]);
  const listed = listCheckpoints(a.dir, 1);
  t.deepEqual(listed.map((c) => [c.epoch, c.lr, c.dir]), [[2, c2.lr, dir], [4, c4.lr, join(a.dir, MODELS.checkpointDir(1, 4))]]);
  t.deepEqual(listCheckpoints(a.dir, 0).length, 2);
  const net = loadNetwork(builtinModels(), dir);
  t.is(net.numParams, 5 * 16 + 16 + 16 * 3 + 3);
  net.dispose();
  t.throws(() => paramsSchema(train, builtins()).parse({ ...recipe, checkpoints: [5] }), { message: /after the last epoch/ });
});

test('a killed train stage resumes at the next unfinished model; finished models are not retrained', async (t) => {
  const inputs = { data: await data, masks: await masks };
  const params = { ...recipe, seeds: 2 };
  const trained: number[] = [];
  const log = (line: string) => {
    const m = /^model (\d+) /.exec(line);
    if (m) trained.push(Number(m[1]));
  };
  const dir = tempDir();
  // The first run is killed after two models: units 0 and 1 finished, nothing combined.
  await runStage(train, { params, inputs, dir, onlyUnits: [0, 1], log });
  t.false(existsSync(join(dir, MODELS.marginsTrain)));
  // Resume as the engine does: run the units without a finished folder, then combine.
  const finished = (i: number) => existsSync(join(dir, 'units', String(i), 'unit.json'));
  const missing = [0, 1, 2, 3].filter((i) => !finished(i));
  t.deepEqual(missing, [2, 3]);
  const resumed = await runStage(train, { params, inputs, dir, onlyUnits: missing, log });
  const parsed = paramsSchema(train, builtins()).parse(params);
  const staging = join(dir, '.staging-combine-test');
  mkdirSync(staging, { recursive: true });
  const ctx: CombineContext = {
    params: parsed, inputs, hash: resumed.hash, seed: 0, backend: process.env.ATTRIB_TEST_BACKEND ?? 'wasm', dir, outDir: staging,
    log, registry: builtins(), count: 4, unitDir: (i) => join(dir, 'units', String(i)), unitOutcomes: [],
  };
  const outcome = await (train as UnitKind).combine(ctx);
  for (const name of readdirSync(staging)) renameSync(join(staging, name), join(dir, name));
  t.deepEqual(trained.sort(), [0, 1, 2, 3], 'each model trained exactly once');
  t.is(outcome?.metrics?.models, 4);
  // Same result as an uninterrupted run.
  const whole = await runStage(train, { params, inputs });
  t.deepEqual(npy({ dir }, MODELS.marginsTest), npy(whole, MODELS.marginsTest));
  t.deepEqual(npy({ dir }, MODELS.probsTrain), npy(whole, MODELS.probsTrain));
});

test('masks from another data set are a clear error', async (t) => {
  const other = await runStage(dataset, { params: { source: { kind: 'synthetic', dim: 5, n: 100 }, train: 50, test: 10 } });
  const inputs = { data: other, masks: await masks };
  await t.throwsAsync(runStage(train, { params: recipe, inputs }), { message: /masks have 200 columns but the data set has 50 train examples/ });
});
