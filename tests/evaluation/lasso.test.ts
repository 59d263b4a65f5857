import test from 'ava';
import { readFileSync } from 'node:fs';
import { initBackend, tf } from '../../lib/backend.ts';
import { CenteredDesign, fista, lassoBlock } from '../../lib/evaluation/lasso.ts';
import { Rng } from '../../lib/random/rng.ts';
import { randomMasks } from './fakes.ts';

interface Fixture { K: number; n: number; B: number; X: number[]; Y: number[]; lambda: number[]; lambdaMax: number[]; coef: number[][]; intercept: number[] }
const fx = JSON.parse(readFileSync(new URL('../fixtures/evaluation/lasso.json', import.meta.url), 'utf8')) as Fixture;

test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
});

test('FISTA at fixed λ matches scikit-learn Lasso (unpenalized intercept)', (t) => {
  const masks = Uint8Array.from(fx.X);
  const all = Int32Array.from({ length: fx.K }, (_, r) => r);
  const design = new CenteredDesign(masks, fx.n, all);
  const { yc, ymean } = design.centerResponses(Float32Array.from(fx.Y), fx.B, all);
  const lambdaMax = tf.max(tf.abs(design.correlation(yc)), 0).dataSync();
  fx.lambdaMax.forEach((l, j) => t.true(Math.abs(lambdaMax[j] - l) < 1e-4 * l));
  const w0 = tf.zeros([fx.n, fx.B]) as tf.Tensor2D;
  const { w } = fista(design, yc, w0, Float32Array.from(fx.lambda), 20000, 1e-7);
  const got = tf.transpose(w).arraySync() as number[][];
  const xw = tf.matMul(tf.tensor2d(design.mean, [1, fx.n]), w).dataSync();
  for (let j = 0; j < fx.B; j++) {
    for (let i = 0; i < fx.n; i++) t.true(Math.abs(got[j][i] - fx.coef[j][i]) < 2e-4, `w[${j}][${i}] ${got[j][i]} vs ${fx.coef[j][i]}`);
    // Same support (exact zeros where sklearn has them).
    t.deepEqual(got[j].map((v) => v !== 0), fx.coef[j].map((v) => v !== 0));
    t.true(Math.abs(ymean[j] - xw[j] - fx.intercept[j]) < 1e-3);
  }
  tf.dispose([w0, w, yc]);
  design.dispose();
});

test('the held-out path recovers a planted sparse linear map', (t) => {
  const rng = Rng.from('planted');
  const K = 400;
  const n = 80;
  const B = 4;
  const masks = randomMasks(K, n, 0.5, rng);
  const truth = new Float32Array(B * n);
  for (let j = 0; j < B; j++) for (const i of rng.permutation(n).subarray(0, 6)) truth[j * n + i] = (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.uniform());
  const y = new Float32Array(K * B);
  for (let k = 0; k < K; k++) for (let j = 0; j < B; j++) {
    let f = 3 - j;
    for (let i = 0; i < n; i++) if (masks[k * n + i]) f += truth[j * n + i];
    y[k * B + j] = f + 0.3 * rng.normal();
  }
  const heldOut = rng.permutation(K).subarray(0, 40);
  const r = lassoBlock(masks, K, n, y, B, heldOut, { pathLength: 25, lambdaMinRatio: 1e-3, tol: 1e-5 });
  for (let j = 0; j < B; j++) {
    let err = 0;
    let norm = 0;
    for (let i = 0; i < n; i++) {
      err += (r.weights[j * n + i] - truth[j * n + i]) ** 2;
      norm += truth[j * n + i] ** 2;
      // Every planted weight is found with its sign; the noise-only ones stay small.
      if (truth[j * n + i] !== 0) t.is(Math.sign(r.weights[j * n + i]), Math.sign(truth[j * n + i]));
      else t.true(Math.abs(r.weights[j * n + i]) < 0.15, `spurious w[${j}][${i}] = ${r.weights[j * n + i]}`);
    }
    t.true(Math.sqrt(err / norm) < 0.1, `relative error ${Math.sqrt(err / norm)} for target ${j}`);
    t.true(Math.abs(r.intercept[j] - (3 - j)) < 0.3, `intercept ${r.intercept[j]}`);
    t.true(r.lambda[j] < r.lambdaMax[j] && r.heldOutMse[j] < 0.2 * r.heldOutMseNull[j]);
  }
});
