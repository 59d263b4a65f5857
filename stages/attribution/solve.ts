/**
 * The regularized solve shared by trak and influence:
 *
 *     X = Φ (ΦᵀWΦ + λI)⁻¹            Φ: [n, k] features, W = diag(w) (default I)
 *
 * streamed by row blocks of Φ, so scores are later τ(x) = φ(x)ᵀ Xᵀ (see blocked.ts).
 * When k > n (e.g. the identity projector on a model with more parameters than
 * examples) and W = I, the push-through identity Φ(ΦᵀΦ + λI)⁻¹ = (ΦΦᵀ + λI)⁻¹Φ solves an
 * n × n system instead ("dual" form): same result, smaller matrix.
 *
 * Gram products run in float32 on the tensor backend (explicit transposes); the
 * Cholesky factorization and inverse run in float64.
 */
import { readNpyHeader, readNpyRows, NpyWriter } from '../io/npy.ts';
import { tf } from '../backend.ts';
import { spdInverse } from './cholesky.ts';

export type LambdaSpec = number | { relative: number };

export interface SolveResult {
  /** The λ actually used (absolute). */
  lambda: number;
  /** mean diag(ΦᵀWΦ): what a relative λ multiplies. */
  meanDiag: number;
  form: 'primal' | 'dual';
  n: number;
  k: number;
}

const BLOCK_FLOATS = 1 << 22;

/** λ from its spec: an absolute number, or {relative: r} → r · mean diag(ΦᵀWΦ). */
export function resolveLambda(spec: LambdaSpec, meanDiag: number): number {
  return typeof spec === 'number' ? spec : spec.relative * meanDiag;
}

/**
 * ΦᵀWΦ for Φ stored in `path` [n, k] (float64 [k, k]), streamed by row blocks.
 * Rows with weight 0 contribute nothing; `weights` defaults to 1.
 */
export function gram(path: string, weights?: Float32Array | Float64Array): Float64Array {
  const [n, k] = readNpyHeader(path).shape;
  const g = new Float64Array(k * k);
  const rb = Math.max(1, Math.floor(BLOCK_FLOATS / k));
  for (let r0 = 0; r0 < n; r0 += rb) {
    const r1 = Math.min(n, r0 + rb);
    const rows = readNpyRows(path, r0, r1);
    const part = tf.tidy(() => {
      const phi = tf.tensor2d(rows.data as Float32Array, [r1 - r0, k]);
      const weighted = weights ? tf.mul(phi, tf.tensor2d(Float32Array.from(weights.subarray(r0, r1)), [r1 - r0, 1])) : phi;
      return tf.matMul(tf.transpose(weighted), phi);
    });
    const data = part.dataSync();
    part.dispose();
    for (let i = 0; i < data.length; i++) g[i] += data[i];
  }
  // Symmetrize (float32 sums of different orders can differ in the last bits).
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) g[i * k + j] = g[j * k + i] = (g[i * k + j] + g[j * k + i]) / 2;
  return g;
}

/**
 * Writes X = Φ (ΦᵀWΦ + λI)⁻¹ to `outPath` ([n, k] float32) for Φ in `phiPath`.
 * Memory: one k × k (or, in the dual form, n × n plus Φ) matrix and one row block.
 */
export function solveRegularized(phiPath: string, outPath: string, lambda: LambdaSpec, weights?: Float32Array | Float64Array): SolveResult {
  const [n, k] = readNpyHeader(phiPath).shape;
  if (!weights && k > n) return solveDual(phiPath, outPath, lambda, n, k);
  const g = gram(phiPath, weights);
  let trace = 0;
  for (let i = 0; i < k; i++) trace += g[i * k + i];
  const meanDiag = trace / k;
  const lam = resolveLambda(lambda, meanDiag);
  for (let i = 0; i < k; i++) g[i * k + i] += lam;
  const inv = spdInverse(g, k, `ΦᵀΦ + λI (k = ${k}, λ = ${lam.toPrecision(4)})`);
  const invT = tf.tensor2d(Float32Array.from(inv), [k, k]);
  const writer = new NpyWriter(outPath, 'float32', [k]);
  try {
    const rb = Math.max(1, Math.floor(BLOCK_FLOATS / k));
    for (let r0 = 0; r0 < n; r0 += rb) {
      const r1 = Math.min(n, r0 + rb);
      const rows = readNpyRows(phiPath, r0, r1);
      const x = tf.tidy(() => tf.matMul(tf.tensor2d(rows.data as Float32Array, [r1 - r0, k]), invT));
      writer.append(x.dataSync() as Float32Array);
      x.dispose();
    }
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  } finally {
    invT.dispose();
  }
  return { lambda: lam, meanDiag, form: 'primal', n, k };
}

/** (ΦΦᵀ + λI)⁻¹Φ = Φ(ΦᵀΦ + λI)⁻¹, for k > n. trace(ΦΦᵀ) = trace(ΦᵀΦ), so λ is the same. */
function solveDual(phiPath: string, outPath: string, lambda: LambdaSpec, n: number, k: number): SolveResult {
  const phi = tf.tensor2d(readNpyRows(phiPath, 0, n).data as Float32Array, [n, k]);
  try {
    const kt = tf.tidy(() => tf.matMul(phi, tf.transpose(phi)));
    const kd = kt.dataSync();
    kt.dispose();
    const kern = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) kern[i * n + j] = (kd[i * n + j] + kd[j * n + i]) / 2;
    let trace = 0;
    for (let i = 0; i < n; i++) trace += kern[i * n + i];
    const meanDiag = trace / k;
    const lam = resolveLambda(lambda, meanDiag);
    for (let i = 0; i < n; i++) kern[i * n + i] += lam;
    const inv = spdInverse(kern, n, `ΦΦᵀ + λI (n = ${n}, λ = ${lam.toPrecision(4)})`);
    const x = tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(inv), [n, n]), phi));
    const writer = new NpyWriter(outPath, 'float32', [k]);
    writer.append(x.dataSync() as Float32Array);
    writer.close();
    x.dispose();
    return { lambda: lam, meanDiag, form: 'dual', n, k };
  } finally {
    phi.dispose();
  }
}
