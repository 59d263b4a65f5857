import test from 'ava';
import { initBackend, tf } from '../../lib/backend.ts';
import { createProjector, DenseProjector, factorize, KroneckerProjector, projectedDim, type LayerFactors, type LayerShape } from '../../lib/projectors/index.ts';
import { Rng } from '../../lib/random/rng.ts';

test.before(async () => {
  await initBackend('wasm');
});

interface Batch {
  factors: LayerFactors[];
  /** The explicit per-example gradients g_i = concat_l vec(Σ_p a_p ⊗ d_p), [B, p]. */
  g: Float64Array;
  p: number;
  dispose(): void;
}

function makeBatch(shapes: LayerShape[], batch: number, positions: number, seed: number): Batch {
  const rng = Rng.from('projector-test', seed);
  const p = shapes.reduce((s, l) => s + l.inDim * l.outDim, 0);
  const g = new Float64Array(batch * p);
  const factors: LayerFactors[] = [];
  let offset = 0;
  for (const l of shapes) {
    const a = rng.fillNormal(new Float32Array(batch * positions * l.inDim));
    const d = rng.fillNormal(new Float32Array(batch * positions * l.outDim));
    for (let b = 0; b < batch; b++)
      for (let q = 0; q < positions; q++)
        for (let i = 0; i < l.inDim; i++)
          for (let o = 0; o < l.outDim; o++)
            g[b * p + offset + i * l.outDim + o] += a[(b * positions + q) * l.inDim + i] * d[(b * positions + q) * l.outDim + o];
    factors.push({ a: tf.tensor3d(a, [batch, positions, l.inDim]), d: tf.tensor3d(d, [batch, positions, l.outDim]) });
    offset += l.inDim * l.outDim;
  }
  return { factors, g, p, dispose: () => factors.forEach((f) => (f.a.dispose(), f.d.dispose())) };
}

/** g [B, p] · P [p, k]. */
function times(g: ArrayLike<number>, batch: number, p: number, P: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(batch * k);
  for (let b = 0; b < batch; b++) for (let r = 0; r < p; r++) {
    const v = g[b * p + r];
    if (v !== 0) for (let j = 0; j < k; j++) out[b * k + j] += v * P[r * k + j];
  }
  return out;
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function projectData(proj: { project(l: LayerFactors[]): tf.Tensor2D }, batch: Batch): Float32Array {
  const phi = proj.project(batch.factors);
  const data = phi.dataSync() as Float32Array;
  phi.dispose();
  return data;
}

const SMALL: LayerShape[] = [
  { name: 'fc1', inDim: 7, outDim: 5 },
  { name: 'fc2', inDim: 6, outDim: 3 },
];

test('identity returns the explicit per-example gradient (one position and several)', (t) => {
  for (const positions of [1, 3]) {
    const batch = makeBatch(SMALL, 4, positions, positions);
    const proj = createProjector({ kind: 'identity', dim: 0, seed: 0 }, SMALL);
    t.is(proj.dim, 7 * 5 + 6 * 3);
    t.is(projectedDim(proj.spec, SMALL), proj.dim);
    t.true(relErr(projectData(proj, batch), batch.g) < 1e-6);
    batch.dispose();
  }
});

test('dense gaussian and rademacher equal g·P, whatever part of P is cached', (t) => {
  // Layers wider than a block so P comes in several blocks per layer.
  const shapes: LayerShape[] = [
    { name: 'a', inDim: 9, outDim: 700 },
    { name: 'b', inDim: 5, outDim: 4 },
  ];
  const batch = makeBatch(shapes, 3, 1, 7);
  for (const kind of ['gaussian', 'rademacher'] as const) {
    const k = 16;
    const full = new DenseProjector({ kind, dim: k, seed: 3 }, shapes, { cacheBytes: 1 << 30 });
    const none = new DenseProjector({ kind, dim: k, seed: 3 }, shapes, { cacheBytes: 0 });
    const some = new DenseProjector({ kind, dim: k, seed: 3 }, shapes, { cacheBytes: 2048 * k * 4 });
    const P = full.matrix();
    t.is(P.length, batch.p * k);
    if (kind === 'rademacher') t.true(P.every((v) => Math.abs(Math.abs(v) - 1 / Math.sqrt(k)) < 1e-7));
    const want = times(batch.g, 3, batch.p, P, k);
    for (const proj of [full, none, some]) {
      t.true(relErr(projectData(proj, batch), want) < 1e-5, kind);
      t.true(relErr(projectData(proj, batch), want) < 1e-5, `${kind}, second batch (from cache)`);
      proj.dispose();
    }
    t.deepEqual(none.matrix(), P, 'regenerated from the seed, block by block');
  }
  batch.dispose();
});

test('kronecker equals its dense equivalent Σ_l (R_in ⊗ R_out)ᵀ g_l', (t) => {
  for (const positions of [1, 4]) {
    const batch = makeBatch(SMALL, 5, positions, 10 + positions);
    const k = 12;
    const proj = createProjector({ kind: 'kronecker', dim: k, seed: 1 }, SMALL) as KroneckerProjector;
    // Dense P: layer blocks stacked by rows, each kron(R_in, R_out), all into the same k columns.
    const P = new Float64Array(batch.p * k);
    let row = 0;
    SMALL.forEach((l, li) => {
      const { kIn, kOut, rIn, rOut } = proj.factors(li);
      t.is(kIn * kOut, k);
      for (let i = 0; i < l.inDim; i++)
        for (let o = 0; o < l.outDim; o++, row++)
          for (let a = 0; a < kIn; a++) for (let b = 0; b < kOut; b++) P[row * k + a * kOut + b] = rIn[i * kIn + a] * rOut[o * kOut + b];
    });
    t.true(relErr(projectData(proj, batch), times(batch.g, 5, batch.p, P, k)) < 1e-5, `positions ${positions}`);
    proj.dispose();
    batch.dispose();
  }
});

test('JL: projections preserve inner products within tolerance', (t) => {
  const shapes: LayerShape[] = [
    { name: 'fc1', inDim: 41, outDim: 32 },
    { name: 'fc2', inDim: 33, outDim: 10 },
  ];
  const B = 12;
  const batch = makeBatch(shapes, B, 1, 99);
  const k = 1024;
  const gg = (x: ArrayLike<number>, dim: number, i: number, j: number) => {
    let s = 0;
    for (let c = 0; c < dim; c++) s += x[i * dim + c] * x[j * dim + c];
    return s;
  };
  for (const kind of ['gaussian', 'rademacher', 'kronecker'] as const) {
    const proj = createProjector({ kind, dim: k, seed: 5 }, shapes);
    const phi = projectData(proj, batch);
    let worst = 0;
    let mean = 0;
    let pairs = 0;
    for (let i = 0; i < B; i++)
      for (let j = i; j < B; j++) {
        const exact = gg(batch.g, batch.p, i, j);
        const scale = Math.sqrt(gg(batch.g, batch.p, i, i) * gg(batch.g, batch.p, j, j));
        const e = Math.abs(gg(phi, k, i, j) - exact) / scale;
        worst = Math.max(worst, e);
        mean += e;
        pairs++;
      }
    mean /= pairs;
    // Dense: the error of φᵀφ'/(|g||g'|) has std about √(2/k) ≈ 0.044. Kronecker on a
    // rank-one gradient G = a dᵀ: φᵀφ' = (aᵀR_inR_inᵀa')(dᵀR_outR_outᵀd'), each factor
    // with relative error ~√(2/k_in), √(2/k_out) (k_in = k_out = 32 here), so single
    // pairs can be off by far more; the mean stays small.
    const [worstMax, meanMax] = kind === 'kronecker' ? [0.8, 0.12] : [0.25, 0.06];
    t.true(worst < worstMax, `${kind}: worst relative error ${worst}`);
    t.true(mean < meanMax, `${kind}: mean relative error ${mean}`);
    proj.dispose();
  }
  batch.dispose();
});

test('same seed, same projection; another seed, another', (t) => {
  const batch = makeBatch(SMALL, 2, 1, 3);
  for (const kind of ['gaussian', 'rademacher', 'kronecker'] as const) {
    const a = projectData(createProjector({ kind, dim: 8, seed: 11 }, SMALL), batch);
    const b = projectData(createProjector({ kind, dim: 8, seed: 11 }, SMALL), batch);
    const c = projectData(createProjector({ kind, dim: 8, seed: 12 }, SMALL), batch);
    t.deepEqual(a, b);
    t.notDeepEqual(a, c);
  }
  batch.dispose();
});

test('kronecker factorization: full rank first, then balanced', (t) => {
  t.deepEqual(factorize(2048, 785, 128), { kIn: 64, kOut: 32 });
  t.deepEqual(factorize(2048, 129, 10), { kIn: 128, kOut: 16 });
  t.deepEqual(factorize(512, 785, 10), { kIn: 64, kOut: 8 }, 'LR head: rank 512 scored above keeping all 10 outputs (BENCHMARKS.md, Kronecker split)');
  t.deepEqual(factorize(512, 1000, 1000), { kIn: 32, kOut: 16 });
  t.deepEqual(factorize(16, 2, 100), { kIn: 2, kOut: 8 });
  t.deepEqual(factorize(13, 50, 50), { kIn: 13, kOut: 1 });
  t.deepEqual(factorize(1, 5, 5), { kIn: 1, kOut: 1 });
});

test('createProjector rejects bad specs and mismatched factors', (t) => {
  t.throws(() => createProjector({ kind: 'gaussian', dim: 0, seed: 0 }, SMALL), { message: /projector\.dim: expected a positive integer/ });
  t.throws(() => createProjector({ kind: 'sparse' as 'gaussian', dim: 4, seed: 0 }, SMALL), { message: /projector\.kind: expected one of/ });
  t.throws(() => createProjector({ kind: 'kronecker', dim: 4, seed: 0 }, []), { message: /no layers/ });
  const proj = createProjector({ kind: 'kronecker', dim: 4, seed: 0 }, SMALL);
  const batch = makeBatch([SMALL[0]], 2, 1, 0);
  t.throws(() => proj.project(batch.factors), { message: /got 1 layers, built for 2/ });
  const wrong = makeBatch([SMALL[1], SMALL[0]], 2, 1, 0);
  t.throws(() => proj.project(wrong.factors), { message: /layer 0 \(fc1\) factors/ });
  batch.dispose();
  wrong.dispose();
});

test('project disposes nothing it was given and leaks no tensors', (t) => {
  const batch = makeBatch(SMALL, 3, 2, 4);
  for (const kind of ['gaussian', 'kronecker', 'identity'] as const) {
    const proj = createProjector({ kind, dim: 6, seed: 0 }, SMALL, { cacheBytes: 0 });
    proj.project(batch.factors).dispose(); // warm-up (kronecker uploads its factors once)
    const before = tf.memory().numTensors;
    proj.project(batch.factors).dispose();
    t.is(tf.memory().numTensors, before, kind);
    t.false(batch.factors[0].a.isDisposed);
    proj.dispose();
  }
  batch.dispose();
});
