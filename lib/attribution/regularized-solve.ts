/**
 * The regularized solve shared by trak and influence:
 *
 *     X = Φ (ΦᵀWΦ + λI)⁻¹            Φ: [n, k] features, W = diag(w) (default I)
 *
 * streamed by row blocks of Φ, so scores are later τ(x) = φ(x)ᵀ Xᵀ (see blocked.ts).
 * When the targets are fewer than the train examples (m < n, the usual case), the
 * inverse is applied on the target side instead, U = Φ_x (ΦᵀWΦ + λI)⁻¹ [m, k], and
 * τ(x) = U Φᵀ: the same scores (the inverse is symmetric) for m·k² flops and m·k floats
 * on disk instead of n·k² and n·k (at n = 60,000, k = 2048: 2 GB less per model).
 * When k > n (e.g. the identity projector on a model with more parameters than
 * examples) and W = I, the push-through identity Φ(ΦᵀΦ + λI)⁻¹ = (ΦΦᵀ + λI)⁻¹Φ solves an
 * n × n system instead ("dual" form): same result, smaller matrix, but it holds Φ
 * (n·k floats) in memory — meant for the identity projector on small models.
 *
 * Gram products run in float32 on the tensor backend, summed in float64 by chunk; the
 * Cholesky factorization and inverse run in float64 (lib/linalg).
 */
import { readNpyHeader, readNpyRows, NpyWriter } from '../io/npy.ts';
import { tf } from '../backend.ts';
import { gramOfNpy, ridgeInverse, resolveLambda, type LambdaSpec } from '../linalg/index.ts';

export type { LambdaSpec };

export interface SolveResult {
  /** The λ actually used (absolute). */
  lambda: number;
  /** mean diag(ΦᵀWΦ): what a relative λ multiplies. */
  meanDiag: number;
  form: 'primal' | 'dual';
  /** Which side the inverse was applied to: the written file is X [n, k] or U [m, k]. */
  side: 'train' | 'targets';
  n: number;
  k: number;
}

const BLOCK_FLOATS = 1 << 22;

/**
 * Writes X = Φ (ΦᵀWΦ + λI)⁻¹ to `outPath` ([n, k] float32) for Φ in `phiPath`, or, when
 * `targetsPath` holds fewer rows than Φ and the primal form applies, U = Φ_x (ΦᵀWΦ + λI)⁻¹
 * ([m, k]); `side` in the result says which.
 * Memory: one k × k (or, in the dual form, n × n plus Φ) matrix and one row block.
 */
export function solveRegularized(
  phiPath: string,
  outPath: string,
  lambda: LambdaSpec,
  weights?: Float32Array | Float64Array,
  targetsPath?: string,
): SolveResult {
  const [n, k] = readNpyHeader(phiPath).shape;
  if (!weights && k > n) return solveDual(phiPath, outPath, lambda, n, k);
  const { gram } = gramOfNpy(phiPath, { weights });
  const { x: inv, lambda: lam, meanDiag } = ridgeInverse(gram, k, lambda, { what: `${weights ? 'ΦᵀWΦ' : 'ΦᵀΦ'} + λI (k = ${k})` });
  const m = targetsPath === undefined ? n : readNpyHeader(targetsPath).shape[0];
  if (targetsPath !== undefined && m < n) {
    writeTimesInverse(targetsPath, outPath, inv, m, k);
    return { lambda: lam, meanDiag, form: 'primal', side: 'targets', n, k };
  }
  writeTimesInverse(phiPath, outPath, inv, n, k);
  return { lambda: lam, meanDiag, form: 'primal', side: 'train', n, k };
}

/** Writes rows · inv to outPath, rows [n, k] read in row blocks from `phiPath`, inv a k × k matrix. */
export function writeTimesInverse(phiPath: string, outPath: string, inv: Float64Array, n: number, k: number): void {
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
    const { x: inv } = ridgeInverse(kern, n, lam, { what: `ΦΦᵀ + λI (n = ${n} < k = ${k})` });
    const x = tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(inv), [n, n]), phi));
    const writer = new NpyWriter(outPath, 'float32', [k]);
    writer.append(x.dataSync() as Float32Array);
    writer.close();
    x.dispose();
    return { lambda: lam, meanDiag, form: 'dual', side: 'train', n, k };
  } finally {
    phi.dispose();
  }
}
