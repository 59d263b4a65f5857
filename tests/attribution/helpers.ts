/**
 * Test helpers for the attribution kinds: hand-made `features` artifacts and an
 * independent float64 reference (Gaussian elimination with partial pivoting, so the
 * tests never share the Cholesky code they check).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, StageHash } from '../../pipeline/registry.ts';
import { FEATURES } from '../../stages/artifacts.ts';
import { writeNpy } from '../../stages/io/npy.ts';
import { Rng } from '../../stages/random/rng.ts';
import { tempDir } from '../helpers/run-stage.ts';

export interface HandFeatures {
  /** Per model, [n, k] row-major. */
  train: Float64Array[];
  /** Per model, [m, k]. */
  targets: Float64Array[];
  /** Per model, [n]. */
  probs: Float64Array[];
  n: number;
  m: number;
  k: number;
  targetIndex?: Int32Array;
  projector?: 'gaussian' | 'identity';
}

export function randomFeatures(seed: string, S: number, n: number, m: number, k: number): HandFeatures {
  const rng = Rng.from('test-features', seed);
  const gen = (len: number) => Float64Array.from({ length: len }, () => rng.normal());
  return {
    train: Array.from({ length: S }, () => gen(n * k)),
    targets: Array.from({ length: S }, () => gen(m * k)),
    probs: Array.from({ length: S }, () => Float64Array.from({ length: n }, () => 0.05 + 0.9 * rng.uniform())),
    n,
    m,
    k,
  };
}

/** Writes the FEATURES layout and returns the Artifact linearize would have produced. */
export function featuresArtifact(f: HandFeatures, dir = tempDir('attrib-features-')): Artifact {
  mkdirSync(dir, { recursive: true });
  const S = f.train.length;
  for (let s = 0; s < S; s++) {
    writeNpy(join(dir, FEATURES.train(s)), Float32Array.from(f.train[s]), [f.n, f.k]);
    writeNpy(join(dir, FEATURES.targets(s)), Float32Array.from(f.targets[s]), [f.m, f.k]);
  }
  const probs = new Float32Array(S * f.n);
  f.probs.forEach((p, s) => probs.set(Float32Array.from(p), s * f.n));
  writeNpy(join(dir, FEATURES.probsTrain), probs, [S, f.n]);
  const targetIndex = f.targetIndex ?? Int32Array.from({ length: f.m }, (_, j) => j);
  writeNpy(join(dir, FEATURES.targetIndex), targetIndex);
  const projector = { kind: f.projector ?? 'gaussian', dim: f.k, seed: 0 };
  writeFileSync(
    join(dir, FEATURES.meta),
    JSON.stringify({ models: S, k: f.k, projector, nTrain: f.n, nTargets: f.m, layers: [{ name: 'hand', inDim: f.k, outDim: 1 }], params: f.k }),
  );
  return { kind: 'features', stageKind: 'linearize', hash: `hand-${Math.random()}` as StageHash, dir, params: { projector }, metrics: {}, units: 0, inputs: {} };
}

/** Solves A X = B (A [k, k], B [k, c]) in float64 by Gaussian elimination with partial pivoting. */
export function solve(a: Float64Array, b: Float64Array, k: number, c: number): Float64Array {
  const A = Float64Array.from(a);
  const B = Float64Array.from(b);
  for (let col = 0; col < k; col++) {
    let piv = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(A[r * k + col]) > Math.abs(A[piv * k + col])) piv = r;
    if (piv !== col) {
      for (let j = 0; j < k; j++) [A[col * k + j], A[piv * k + j]] = [A[piv * k + j], A[col * k + j]];
      for (let j = 0; j < c; j++) [B[col * c + j], B[piv * c + j]] = [B[piv * c + j], B[col * c + j]];
    }
    for (let r = col + 1; r < k; r++) {
      const f = A[r * k + col] / A[col * k + col];
      if (f === 0) continue;
      for (let j = col; j < k; j++) A[r * k + j] -= f * A[col * k + j];
      for (let j = 0; j < c; j++) B[r * c + j] -= f * B[col * c + j];
    }
  }
  for (let col = k - 1; col >= 0; col--) {
    for (let j = 0; j < c; j++) {
      let s = B[col * c + j];
      for (let q = col + 1; q < k; q++) s -= A[col * k + q] * B[q * c + j];
      B[col * c + j] = s / A[col * k + col];
    }
  }
  return B;
}

/** [n, k] → [k, k] ΦᵀWΦ in float64. */
export function gram64(phi: Float64Array, n: number, k: number, w?: ArrayLike<number>): Float64Array {
  const g = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    for (let a = 0; a < k; a++) {
      const va = phi[i * k + a] * wi;
      if (va === 0) continue;
      for (let b = 0; b < k; b++) g[a * k + b] += va * phi[i * k + b];
    }
  }
  return g;
}

export function transpose(x: Float64Array, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = x[i * c + j];
  return t;
}

/** Max |a − b| / max |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
