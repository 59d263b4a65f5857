/** Learning-rate schedules and optimizers of the fit recipe. */
import test from 'ava';
import { initBackend, tf } from '../../lib/backend.ts';
import { fitSpec, learningRate, makeOptimizer } from '../../lib/training/index.ts';

test('schedules: constant, linear decay, one-cycle triangle at step midpoints', (t) => {
  const T = 10;
  const lrs = (schedule: unknown) => Array.from({ length: T }, (_, s) => learningRate(fitSpec.parse({ epochs: 1, batchSize: 1, optimizer: { kind: 'sgd', lr: 1 }, schedule }).schedule, 1, s, T));
  t.deepEqual(lrs('constant'), new Array(T).fill(1));
  const linear = lrs('linear');
  linear.forEach((v, s) => t.true(Math.abs(v - (1 - (s + 0.5) / T)) < 1e-12));
  const cycle = lrs({ kind: 'onecycle', peak: 0.5 });
  t.true(Math.abs(cycle[0] - 0.1) < 1e-12);
  t.true(Math.abs(cycle[4] - 0.9) < 1e-12);
  t.true(Math.abs(cycle[5] - 0.9) < 1e-12);
  t.true(Math.abs(cycle[9] - 0.1) < 1e-12);
  t.deepEqual(fitSpec.parse({ epochs: 1, batchSize: 1, optimizer: { kind: 'sgd', lr: 1 } }).schedule, { kind: 'constant' });
});

test('sgd with momentum and adam take the textbook steps; weight decay skips biases', async (t) => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
  const vars = [tf.variable(tf.tensor1d([1, 2])), tf.variable(tf.tensor1d([3]))];
  const sgd = makeOptimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: false }, vars, 0.5);
  const g = () => [tf.tensor1d([1, 1]), tf.tensor1d([1])];
  tf.tidy(() => sgd.step(g(), 0.1)); // v = g + wd·w = [1.5, 2], [1]
  tf.tidy(() => sgd.step(g(), 0.1)); // w = [0.85, 1.8]; v = 0.9 v + g + 0.5 w
  const w0 = [1 - 0.1 * 1.5, 2 - 0.1 * 2];
  const v1 = [0.9 * 1.5 + 1 + 0.5 * w0[0], 0.9 * 2 + 1 + 0.5 * w0[1]];
  const got = vars[0].dataSync();
  t.true(Math.abs(got[0] - (w0[0] - 0.1 * v1[0])) < 1e-6 && Math.abs(got[1] - (w0[1] - 0.1 * v1[1])) < 1e-6, `${got}`);
  t.true(Math.abs(vars[1].dataSync()[0] - (3 - 0.1 - 0.1 * 1.9)) < 1e-6, 'bias: no decay');
  const p = [tf.variable(tf.tensor1d([0.5])), tf.variable(tf.tensor1d([0]))];
  const adam = makeOptimizer({ kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, p, 0);
  tf.tidy(() => adam.step([tf.tensor1d([4]), tf.tensor1d([0])], 0.01));
  // First adam step moves by lr · sign(g) (bias-corrected m̂/√ŝ = 1).
  t.true(Math.abs(p[0].dataSync()[0] - 0.49) < 1e-6);
  sgd.dispose();
  adam.dispose();
});
