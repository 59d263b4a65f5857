/**
 * Strong-rule screening (lib/evaluation/lasso.ts solveAt) leaves features out of the
 * solve and checks KKT after: the solution must be the one without screening, on the
 * scikit-learn fixture at fixed λ and along the whole held-out path.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { initBackend, tf } from '../../lib/backend.ts';
import { CenteredDesign, lassoBlock, solveAt } from '../../lib/evaluation/lasso.ts';
import { Rng } from '../../lib/random/rng.ts';
import { randomMasks } from './fakes.ts';

interface Fixture { K: number; n: number; B: number; X: number[]; Y: number[]; lambda: number[]; coef: number[][] }
const fx = JSON.parse(readFileSync(new URL('../fixtures/evaluation/lasso.json', import.meta.url), 'utf8')) as Fixture;

test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
});

test('screened solve at fixed λ from zero equals scikit-learn Lasso', (t) => {
  const all = Int32Array.from({ length: fx.K }, (_, r) => r);
  const design = new CenteredDesign(Uint8Array.from(fx.X), fx.n, all);
  const { yc } = design.centerResponses(Float32Array.from(fx.Y), fx.B, all);
  const w0 = tf.zeros([fx.n, fx.B]) as tf.Tensor2D;
  const lambda = Float32Array.from(fx.lambda);
  // From 0 with λPrev = λ: the rule keeps only the features whose gradient already reaches λ; KKT adds the rest.
  const r = solveAt(design, yc, w0, lambda, lambda, 20000, 1e-7, true);
  const got = tf.transpose(r.w).arraySync() as number[][];
  for (let j = 0; j < fx.B; j++) {
    for (let i = 0; i < fx.n; i++) t.true(Math.abs(got[j]![i]! - fx.coef[j]![i]!) < 2e-4, `w[${j}][${i}] ${got[j]![i]} vs ${fx.coef[j]![i]}`);
    t.deepEqual(got[j]!.map((v) => v !== 0), fx.coef[j]!.map((v) => v !== 0));
  }
  t.true(r.features <= fx.n);
  tf.dispose([w0, r.w, yc]);
  design.dispose();
});

test('the held-out path with screening gives the solution without it, solving on fewer features', (t) => {
  const rng = Rng.from('screening');
  const K = 300;
  const n = 150;
  const B = 6;
  const masks = randomMasks(K, n, 0.5, rng);
  const y = new Float32Array(K * B);
  const truth = new Float32Array(B * n);
  for (let j = 0; j < B; j++) for (const i of rng.permutation(n).subarray(0, 8)) truth[j * n + i] = (rng.uniform() < 0.5 ? -1 : 1) * (0.5 + rng.uniform());
  for (let k = 0; k < K; k++) for (let j = 0; j < B; j++) {
    let f = 1;
    for (let i = 0; i < n; i++) if (masks[k * n + i]) f += truth[j * n + i]!;
    y[k * B + j] = f + 0.5 * rng.normal();
  }
  const heldOut = rng.permutation(K).subarray(0, 30);
  const options = { pathLength: 15, lambdaMinRatio: 1e-2, tol: 1e-6, maxIter: 5000, patience: 3 };
  const plain = lassoBlock(masks, K, n, y, B, heldOut, { ...options, screening: false });
  const screened = lassoBlock(masks, K, n, y, B, heldOut, { ...options, screening: true });
  t.deepEqual(Array.from(screened.lambda), Array.from(plain.lambda), 'the same λ chosen for every target');
  t.is(screened.pathVisited, plain.pathVisited);
  let worst = 0;
  for (let x = 0; x < plain.weights.length; x++) worst = Math.max(worst, Math.abs(screened.weights[x]! - plain.weights[x]!));
  t.true(worst < 1e-3, `largest weight difference ${worst}`);
  for (let j = 0; j < B; j++) {
    t.true(Math.abs(screened.intercept[j]! - plain.intercept[j]!) < 1e-3);
    t.true(Math.abs(screened.heldOutMse[j]! - plain.heldOutMse[j]!) <= 1e-4 * plain.heldOutMse[j]!);
  }
  t.is(plain.featuresSolved, 1);
  t.true(screened.featuresSolved < 0.9, `features solved on: ${screened.featuresSolved}`);
});
