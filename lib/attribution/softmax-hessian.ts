/**
 * The exact Hessian of the cross-entropy of a softmax output layer, rebuilt from the
 * margin gradients that linearize writes with the identity projector (for `influence`,
 * hessian: softmax).
 *
 * For a dense layer z = Wᵀx̃ (x̃ = [x; 1], W: [in, C], parameters in the row-major
 * order of W, bias row last; models/types.ts) feeding the softmax π = softmax(z):
 *
 *     ∇²_W (−log π_y) = (diag π − π πᵀ) ⊗ x̃ x̃ᵀ            (Kronecker, class index inner)
 *     H[(a,c),(b,c')]  = Σ_i A_i[c,c'] x̃_{i,a} x̃_{i,b},    A_i = diag π_i − π_i π_iᵀ
 *
 * Nothing but the features is needed: the margin f = z_y − logsumexp_{c≠y} z_c has
 * ∂f/∂z = e_y − q (q = softmax over the classes ≠ y, q_y = 0), so
 *
 *     g = ∇_W f = x̃ (e_y − q)ᵀ      bias row (x̃ = 1):  e_y − q      column y:  x̃
 *     π = p e_y + (1 − p) q           (p = σ(f), the features' probs)
 *
 * and every row is checked to have exactly this rank-one form (which is what tells a
 * softmax output layer from a hidden layer or several layers). H is then a sum of
 * C(C + 1)/2 weighted Gram matrices of X̃ (one per class pair), each block computed
 * once and mirrored: C(C+1)/2 · n · in² flops, about half of the margin Gram Σ w g gᵀ
 * (n · (C·in)²) the margin Hessian costs.
 */
import { tf } from '../backend.ts';
import { readNpyChunks, readNpyHeader, readNpyRows, rowsForBytes } from '../io/npy.ts';
import { ridgeInverse, type LambdaSpec } from '../linalg/index.ts';
import type { FeaturesView } from './features.ts';
import { writeTimesInverse, type SolveResult } from './regularized-solve.ts';

/** How far a row may be from the rank-one form x̃ (e_y − q)ᵀ, relative to its scale (float32 products: ~1e-7). */
const TOL = 1e-4;

export interface SoftmaxLayer {
  /** Layer inputs with the bias column (in) and classes (C): k = in · C. */
  inDim: number;
  classes: number;
}

/**
 * The softmax layer the features describe, or why they do not describe one: a single
 * featurized layer with C ≥ 2 outputs whose every train row has the form x̃ (e_y − q)ᵀ
 * with x̃_last = 1 (the bias input), e_y − q summing to 0. Reads the train features once.
 */
export function softmaxLayerOf(features: FeaturesView, s: number): SoftmaxLayer | { reason: string } {
  const { layers, k } = features.meta;
  if (layers.length !== 1) return { reason: `the features span ${layers.length} layers (${layers.map((l) => l.name).join(', ')}), not one softmax output layer` };
  const { inDim, outDim, name } = layers[0];
  if (outDim < 2) return { reason: `layer ${name} has ${outDim} output, not the ≥ 2 logits of a softmax` };
  if (inDim * outDim !== k) return { reason: `layer ${name} is ${inDim} × ${outDim} but the features have k = ${k}` };
  const path = features.trainPath(s);
  for (const { start, end, array } of readNpyChunks(path, rowsForBytes(readNpyHeader(path), 16 << 20))) {
    const g = array.data as Float32Array;
    for (let r = 0; r < end - start; r++) {
      const bad = rankOneDefect(g.subarray(r * k, (r + 1) * k), inDim, outDim);
      if (bad) return { reason: `train row ${start + r} of layer ${name} is not x̃ (e_y − q)ᵀ (${bad}): not a softmax output layer with a bias` };
    }
  }
  return { inDim, classes: outDim };
}

/** Why row g [in, C] is not x̃ (e_y − q)ᵀ with x̃_last = 1, or undefined. */
function rankOneDefect(g: Float32Array, inDim: number, C: number): string | undefined {
  const bias = (inDim - 1) * C;
  const y = argmaxRange(g, bias, C);
  let sum = 0;
  for (let c = 0; c < C; c++) {
    const r = g[bias + c];
    sum += r;
    if (c !== y && r > TOL) return `bias-row entry ${c} is ${r} > 0`;
  }
  if (Math.abs(g[bias + y] - 1) > TOL) return `bias-row entry ${y} is ${g[bias + y]}, not 1`;
  if (Math.abs(sum) > TOL) return `the bias row sums to ${sum}, not 0`;
  let scale = 0;
  for (let a = 0; a < inDim; a++) scale = Math.max(scale, Math.abs(g[a * C + y]));
  for (let a = 0; a < inDim; a++) {
    const x = g[a * C + y];
    for (let c = 0; c < C; c++) {
      if (Math.abs(g[a * C + c] - x * g[bias + c]) > TOL * scale) return `entry (${a}, ${c}) is ${g[a * C + c]}, not ${x * g[bias + c]}`;
    }
  }
  return undefined;
}

function argmaxRange(g: Float32Array, from: number, len: number): number {
  let best = 0;
  for (let c = 1; c < len; c++) if (g[from + c] > g[from + best]) best = c;
  return best;
}

/**
 * H = Σ_{i: weight_i ≠ 0} (diag π_i − π_i π_iᵀ) ⊗ x̃_i x̃_iᵀ, [k, k] row-major float64,
 * from the train features at `path` ([n, in·C], checked by softmaxLayerOf) and the
 * correct-class probabilities p. `include` (the model's training subset) selects rows.
 */
export function softmaxHessian(path: string, layer: SoftmaxLayer, p: ArrayLike<number>, include?: Uint8Array): Float64Array {
  const { inDim, classes: C } = layer;
  const k = inDim * C;
  const h = new Float64Array(k * k);
  const header = readNpyHeader(path);
  const rowsPerChunk = Math.max(1, Math.min(512, Math.floor((4 << 20) / k)));
  for (let r0 = 0; r0 < header.shape[0]; r0 += rowsPerChunk) {
    const r1 = Math.min(header.shape[0], r0 + rowsPerChunk);
    const g = readNpyRows(path, r0, r1, header).data as Float32Array;
    const rows: number[] = [];
    for (let r = r0; r < r1; r++) if (!include || include[r]) rows.push(r);
    if (rows.length) addChunk(h, g, r0, rows, p, inDim, C);
  }
  // Mirror the upper block triangle (c' ≥ c) into the lower one.
  for (let i = 0; i < k; i++) {
    const ci = i % C;
    for (let j = 0; j < k; j++) if (j % C < ci) h[i * k + j] = h[j * k + i];
  }
  return h;
}

/** Adds one chunk's rows (absolute indices `rows`, features g starting at row r0). */
function addChunk(h: Float64Array, g: Float32Array, r0: number, rows: number[], p: ArrayLike<number>, inDim: number, C: number): void {
  const k = inDim * C;
  const R = rows.length;
  const x = new Float32Array(R * inDim);
  const pi = new Float64Array(R * C);
  const bias = (inDim - 1) * C;
  rows.forEach((r, i) => {
    const row = g.subarray((r - r0) * k, (r - r0 + 1) * k);
    const y = argmaxRange(row, bias, C);
    for (let a = 0; a < inDim; a++) x[i * inDim + a] = row[a * C + y];
    const pr = p[r];
    for (let c = 0; c < C; c++) pi[i * C + c] = c === y ? pr : (1 - pr) * -row[bias + c];
  });
  const xt = tf.tensor2d(x, [R, inDim]);
  const xT = tf.transpose(xt);
  try {
    for (let c = 0; c < C; c++) {
      // Y_c[i, (c' − c)·in + b] = A_i[c, c'] x̃_{i,b} for c' ≥ c, so X̃ᵀ Y_c holds the blocks (c, c' ≥ c).
      const width = (C - c) * inDim;
      const yc = new Float32Array(R * width);
      for (let i = 0; i < R; i++) {
        const pc = pi[i * C + c];
        for (let c2 = c; c2 < C; c2++) {
          const a = pc * ((c2 === c ? 1 : 0) - pi[i * C + c2]);
          if (a === 0) continue;
          const off = i * width + (c2 - c) * inDim;
          for (let b = 0; b < inDim; b++) yc[off + b] = a * x[i * inDim + b];
        }
      }
      const part = tf.tidy(() => tf.matMul(xT, tf.tensor2d(yc, [R, width])));
      const v = part.dataSync();
      part.dispose();
      for (let a = 0; a < inDim; a++) {
        for (let c2 = c; c2 < C; c2++) {
          const hRow = (a * C + c) * k + c2;
          const vRow = a * width + (c2 - c) * inDim;
          for (let b = 0; b < inDim; b++) h[hRow + b * C] += v[vRow + b];
        }
      }
    }
  } finally {
    xt.dispose();
    xT.dispose();
  }
}

/**
 * Writes X = Φ (H + dI)⁻¹ ([n, k] float32) for the train features Φ at `phiPath` and a
 * given Hessian H [k, k] (the counterpart of solveRegularized, which forms ΦᵀWΦ itself).
 */
export function solveWithHessian(phiPath: string, outPath: string, h: Float64Array, damping: LambdaSpec): SolveResult {
  const [n, k] = readNpyHeader(phiPath).shape;
  if (h.length !== k * k) throw new Error(`solveWithHessian: H has ${h.length} values, the features k = ${k}`);
  const { x: inv, lambda, meanDiag } = ridgeInverse(h, k, damping, { what: `H + dI (softmax Hessian, k = ${k})` });
  writeTimesInverse(phiPath, outPath, inv, n, k);
  return { lambda, meanDiag, form: 'primal', side: 'train', n, k };
}
