import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../lib/backend.ts';
import { writeNpy } from '../../lib/io/npy.ts';
import {
  cholesky,
  choleskyBasic,
  crossOfNpy,
  gram,
  GramAccumulator,
  gramOfNpy,
  matmul64,
  meanDiagonal,
  NotPositiveDefiniteError,
  pearson,
  rankAverage,
  ridgeInverse,
  ridgeSolve,
  solveLower,
  solveLowerBasic,
  solveLowerTransposed,
  solveLowerTransposedBasic,
  spdInverse,
  spdSolve,
  spearman,
} from '../../lib/linalg/index.ts';
import { Rng } from '../../lib/random/rng.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/numeric/', import.meta.url));

test.before(async () => {
  await initBackend('wasm');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

/** A lower-triangular matrix of small integers with a positive diagonal: A = LLᵀ is exact in float64. */
function integerFactor(n: number, seed: number): Float64Array {
  const r = Rng.from('integer-factor', seed);
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) l[i * n + j] = r.int(7) - 3;
    l[i * n + i] = 1 + r.int(4);
  }
  return l;
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  return Rng.from('matrix', seed).fillNormal(new Float64Array(rows * cols));
}

/** A well-conditioned SPD matrix X Xᵀ/n + I. */
function spd(n: number, seed: number): Float64Array {
  const x = randomMatrix(n, n, seed);
  const a = matmul64(x, transpose(x, n, n), n, n, n);
  for (let i = 0; i < a.length; i++) a[i] /= n;
  for (let i = 0; i < n; i++) a[i * n + i] += 1;
  return a;
}

test('matmul64 is exact on integers, including ragged edges', (t) => {
  for (const [m, k, n] of [[1, 1, 1], [3, 5, 2], [9, 7, 13], [37, 130, 41]]) {
    const a = Float64Array.from({ length: m * k }, (_, i) => ((i * 7) % 11) - 5);
    const b = Float64Array.from({ length: k * n }, (_, i) => ((i * 5) % 9) - 4);
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j] += a[i * k + p] * b[p * n + j];
    t.deepEqual(matmul64(a, b, m, k, n), c, `${m}x${k}x${n}`);
  }
});

test('cholesky recovers an exact integer factor at sizes that exercise every block path', (t) => {
  for (const n of [1, 2, 7, 31, 32, 33, 64, 100, 257]) {
    const l = integerFactor(n, n);
    const a = matmul64(l, transpose(l, n, n), n, n, n);
    const got = cholesky(a, n);
    const scale = Math.max(...a.map(Math.abs));
    t.true(maxAbsDiff(got, l) < 1e-9 * Math.sqrt(scale) * n, `n = ${n}: ${maxAbsDiff(got, l)}`);
    t.true(maxAbsDiff(choleskyBasic(a, n), l) < 1e-9 * Math.sqrt(scale) * n);
    // Only the lower triangle is read: garbage above the diagonal changes nothing.
    const garbled = Float64Array.from(a);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) garbled[i * n + j] = NaN;
    t.deepEqual(cholesky(garbled, n), got);
  }
});

test('a matrix that is not positive definite names its pivot', (t) => {
  const e = t.throws(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2), { instanceOf: NotPositiveDefiniteError });
  t.is(e!.pivot, 1);
  t.is(e!.value, -3);
  t.regex(e!.message, /matrix is not positive definite \(pivot 1 = -3\)/);
  // Deep inside the recursive blocks: make pivot 150 of a 200×200 SPD matrix fail.
  const n = 200;
  const l = integerFactor(n, 1);
  const a = matmul64(l, transpose(l, n, n), n, n, n);
  a[150 * n + 150] -= l[150 * n + 150] ** 2 + 1;
  const deep = t.throws(() => cholesky(a, n, { what: 'ΦᵀΦ', hint: '; add lambda' }), { instanceOf: NotPositiveDefiniteError });
  t.is(deep!.pivot, 150);
  t.is(deep!.value, -1);
  t.regex(deep!.message, /^ΦᵀΦ is not positive definite \(pivot 150 = -1\); add lambda$/);
  t.throws(() => cholesky(Float64Array.from([NaN]), 1), { instanceOf: NotPositiveDefiniteError, message: /pivot 0 = NaN/ });
});

test('triangular solves with many right-hand sides match the reference loops', (t) => {
  for (const n of [1, 5, 16, 17, 40, 130]) {
    const l = cholesky(spd(n, n), n);
    for (const m of [1, 3, 4, 9]) {
      const b = randomMatrix(n, m, 100 + m);
      const x = solveLower(l, n, b, m);
      t.true(maxAbsDiff(x, solveLowerBasic(l, n, b, m)) < 1e-11, `L, n ${n} m ${m}`);
      t.true(maxAbsDiff(matmul64(l, x, n, n, m), b) < 1e-11);
      const y = solveLowerTransposed(l, n, b, m);
      t.true(maxAbsDiff(y, solveLowerTransposedBasic(l, n, b, m)) < 1e-11, `Lᵀ, n ${n} m ${m}`);
      t.true(maxAbsDiff(matmul64(transpose(l, n, n), y, n, n, m), b) < 1e-11);
    }
  }
});

test('SPD solve and inverse, exact on an integer system', (t) => {
  const n = 70;
  const l = integerFactor(n, 3);
  const a = matmul64(l, transpose(l, n, n), n, n, n);
  const xTrue = Float64Array.from({ length: n * 3 }, (_, i) => (i % 5) - 2);
  const b = matmul64(a, xTrue, n, n, 3);
  t.true(maxAbsDiff(spdSolve(a, n, b, 3), xTrue) < 1e-6);

  const s = spd(90, 4);
  const inv = spdInverse(s, 90);
  const eye = matmul64(s, inv, 90, 90, 90);
  t.true(maxAbsDiff(eye, Float64Array.from({ length: 90 * 90 }, (_, i) => (i % 91 === 0 ? 1 : 0))) < 1e-12);
});

test('ridge: λ absolute or relative to mean diag, and a clear error when G + λI is singular', (t) => {
  // k > n: G = XᵀX is singular; (G + λI) is not.
  const n = 10;
  const k = 24;
  const x = randomMatrix(n, k, 5);
  const g = matmul64(transpose(x, n, k), x, k, n, k);
  const md = meanDiagonal(g, k);
  t.throws(() => ridgeSolve(g, k, new Float64Array(k), 1, 0), { instanceOf: NotPositiveDefiniteError, message: /G \+ λI is not positive definite .*λ = 0 .*increase lambda/ });
  const rhs = randomMatrix(k, 2, 6);
  const rel = ridgeSolve(g, k, rhs, 2, { relative: 0.1 });
  t.true(Math.abs(rel.lambda - 0.1 * md) < 1e-12 * md);
  t.is(rel.meanDiag, md);
  const shifted = Float64Array.from(g);
  for (let i = 0; i < k; i++) shifted[i * k + i] += rel.lambda;
  t.true(maxAbsDiff(matmul64(shifted, rel.x, k, k, 2), rhs) < 1e-10);
  const abs = ridgeSolve(g, k, rhs, 2, rel.lambda);
  t.true(maxAbsDiff(abs.x, rel.x) < 1e-14);
  const inv = ridgeInverse(g, k, { relative: 0.1 });
  t.true(maxAbsDiff(matmul64(inv.x, rhs, k, k, 2), rel.x) < 1e-10);
  t.throws(() => ridgeSolve(g, k, rhs, 2, -1), { message: /lambda must be a finite number ≥ 0/ });
});

test('Gram XᵀX over row chunks equals the exact product (integer data, column blocks, weights)', (t) => {
  for (const [n, k, blocks] of [[50, 3, 1], [300, 40, 4], [257, 33, 3]]) {
    const x = Float32Array.from({ length: n * k }, (_, i) => ((i * 13) % 7) - 3);
    const w = Float32Array.from({ length: n }, (_, i) => (i % 3) + 1);
    const exact = new Float64Array(k * k);
    const exactW = new Float64Array(k * k);
    for (let r = 0; r < n; r++)
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          exact[i * k + j] += x[r * k + i] * x[r * k + j];
          exactW[i * k + j] += w[r] * x[r * k + i] * x[r * k + j];
        }
    t.deepEqual(gram(x, n, k, 64), exact);
    const acc = new GramAccumulator(k, blocks);
    const accW = new GramAccumulator(k, blocks);
    for (let r0 = 0; r0 < n; r0 += 100) {
      const r1 = Math.min(n, r0 + 100);
      acc.add(x.subarray(r0 * k, r1 * k));
      accW.add(x.subarray(r0 * k, r1 * k), r1 - r0, w.subarray(r0, r1));
    }
    t.is(acc.rows, n);
    t.deepEqual(acc.result(), exact);
    t.deepEqual(accW.result(), exactW);
  }
});

test('Gram and cross products streamed from .npy files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-gram-'));
  try {
    const n = 333;
    const kx = 20;
    const ky = 7;
    const x = Float32Array.from({ length: n * kx }, (_, i) => ((i * 3) % 5) - 2);
    const y = Float32Array.from({ length: n * ky }, (_, i) => ((i * 7) % 4) - 1);
    writeNpy(join(dir, 'x.npy'), x, [n, kx]);
    writeNpy(join(dir, 'y.npy'), y, [n, ky]);
    const g = gramOfNpy(join(dir, 'x.npy'), { chunkBytes: 1000 });
    t.is(g.n, n);
    t.is(g.k, kx);
    t.deepEqual(g.gram, gram(x, n, kx));
    const c = crossOfNpy(join(dir, 'x.npy'), join(dir, 'y.npy'), { chunkBytes: 999 });
    const exact = new Float64Array(kx * ky);
    for (let r = 0; r < n; r++) for (let i = 0; i < kx; i++) for (let j = 0; j < ky; j++) exact[i * ky + j] += x[r * kx + i] * y[r * ky + j];
    t.deepEqual(c.cross, exact);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pearson, spearman and average ranks agree with scipy', (t) => {
  const cases = JSON.parse(readFileSync(join(FIXTURES, 'correlation.json'), 'utf8')) as {
    x: number[];
    y: number[];
    pearson: number;
    spearman: number;
    rankX: number[];
  }[];
  for (const c of cases) {
    t.true(Math.abs(pearson(c.x, c.y) - c.pearson) < 1e-12, `pearson ${pearson(c.x, c.y)} vs ${c.pearson}`);
    t.true(Math.abs(spearman(c.x, c.y) - c.spearman) < 1e-12, `spearman ${spearman(c.x, c.y)} vs ${c.spearman}`);
    t.deepEqual(Array.from(rankAverage(c.x)), c.rankX);
  }
  t.true(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  t.true(Number.isNaN(spearman([1, 2, NaN], [1, 2, 3])));
  t.is(spearman(Float32Array.from([0.1, 0.5, 0.3]), [1, 3, 2]), 1);
  t.throws(() => pearson([1, 2], [1]), { message: /lengths 2 and 1 differ/ });
});

test('the committed wasm bytes are kernels.wat assembled', async (t) => {
  const { assemble, render } = await import('../../lib/linalg/wasm/build.ts');
  let bytes: Uint8Array;
  try {
    bytes = await assemble();
  } catch (e) {
    t.pass(`wabt not installed (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  const committed = readFileSync(fileURLToPath(new URL('../../lib/linalg/wasm/kernels.wasm.ts', import.meta.url)), 'utf8');
  t.is(committed, render(bytes), 'run node --import tsx lib/linalg/wasm/build.ts');
});
