/**
 * Blocked evaluation of linear attribution scores
 *
 *     τ(x_j)_i = post( Σ_t w_t · c_{t,i} · ⟨u_t(x_j), v_{t,i}⟩ )
 *
 * where each term t pairs a target-feature file U_t [m, k] with a train-side file
 * V_t [n, k] (Φ for graddot, Φ(ΦᵀΦ+λI)⁻¹ for TRAK, ...), w_t is a scalar weight and
 * c_t an optional per-train-example scale (e.g. η(1 − p_i) for TracIn). With `cosine`,
 * both sides are divided by their row norms first.
 *
 * Targets are processed `targetBlock` rows at a time and train rows `trainBlock` at a
 * time, so the working set is one [targetBlock, n] accumulator plus two feature blocks,
 * however large n · m is. Each finished block goes straight to the ScoresWriter.
 */
import { readNpyHeader, readNpyRows } from '../io/npy.ts';
import { tf } from '../backend.ts';
import type { ScoresWriter } from './scores.ts';

export interface ScoreTerm {
  /** .npy [m, k]: target features. */
  targets: string;
  /** .npy [n, k]: train-side matrix. */
  train: string;
  weight: number;
  /** Per-train-row factor c_{t,i}. */
  trainScale?: Float32Array;
  /** Divide both sides by their row norms (gradient cosine). */
  cosine?: boolean;
}

export interface BlockedScoreOptions {
  terms: ScoreTerm[];
  writer: ScoresWriter;
  /** Target rows per block (default: as many as keep the accumulator ≤ 16M floats, at most 512). */
  targetBlock?: number;
  /** Train rows per block (default: ≤ 4M floats per feature block). */
  trainBlock?: number;
  /** Post-processing of one finished [rows, n] block, in place (Q term, thresholding). */
  finish?: (block: Float32Array, rows: number) => void;
  progress?: (fraction: number) => void;
}

const ACCUMULATOR_FLOATS = 1 << 24;
const FEATURE_BLOCK_FLOATS = 1 << 22;

export function defaultTargetBlock(nTrain: number): number {
  return Math.max(1, Math.min(512, Math.floor(ACCUMULATOR_FLOATS / Math.max(1, nTrain))));
}

/** Rows scaled to unit norm (zero rows stay zero). */
function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
    return tf.div(x, tf.maximum(norm, 1e-12)) as tf.Tensor2D;
  });
}

function load(path: string, start: number, end: number, cosine: boolean): tf.Tensor2D {
  const rows = readNpyRows(path, start, end);
  if (rows.dtype !== 'float32') throw new Error(`${path}: expected float32, got ${rows.dtype}`);
  const t = tf.tensor2d(rows.data as Float32Array, [rows.shape[0], rows.shape[1]]);
  if (!cosine) return t;
  const n = normalizeRows(t);
  t.dispose();
  return n;
}

/** Computes every target's scores block by block and appends them to `writer`. */
export function scoreInBlocks(opts: BlockedScoreOptions): void {
  const { terms, writer } = opts;
  if (terms.length === 0) throw new Error('scoreInBlocks: no terms');
  const m = readNpyHeader(terms[0].targets).shape[0];
  const n = writer.nTrain;
  for (const t of terms) {
    const ht = readNpyHeader(t.targets);
    const hv = readNpyHeader(t.train);
    if (ht.shape[0] !== m || hv.shape[0] !== n || ht.shape[1] !== hv.shape[1]) {
      throw new Error(`scoreInBlocks: ${t.targets} ${JSON.stringify(ht.shape)} and ${t.train} ${JSON.stringify(hv.shape)} do not pair (expected [${m}, k] and [${n}, k])`);
    }
    if (t.trainScale && t.trainScale.length !== n) throw new Error(`scoreInBlocks: trainScale has ${t.trainScale.length} entries, expected ${n}`);
  }
  const tb = Math.max(1, opts.targetBlock ?? defaultTargetBlock(n));
  for (let t0 = 0; t0 < m; t0 += tb) {
    const t1 = Math.min(m, t0 + tb);
    const b = t1 - t0;
    const acc = new Float32Array(b * n);
    for (const term of terms) {
      const k = readNpyHeader(term.train).shape[1];
      const rb = Math.max(1, opts.trainBlock ?? Math.floor(FEATURE_BLOCK_FLOATS / Math.max(1, k)));
      const u = load(term.targets, t0, t1, term.cosine ?? false);
      try {
        for (let r0 = 0; r0 < n; r0 += rb) {
          const r1 = Math.min(n, r0 + rb);
          const r = r1 - r0;
          // Explicit transpose: matMul's transpose flags are very slow on wasm.
          const part = tf.tidy(() => {
            const v = load(term.train, r0, r1, term.cosine ?? false);
            return tf.matMul(u, tf.transpose(v));
          });
          const data = part.dataSync() as Float32Array;
          part.dispose();
          const w = term.weight;
          const c = term.trainScale;
          for (let row = 0; row < b; row++) {
            const dst = row * n + r0;
            const src = row * r;
            if (c) for (let j = 0; j < r; j++) acc[dst + j] += w * c[r0 + j] * data[src + j];
            else for (let j = 0; j < r; j++) acc[dst + j] += w * data[src + j];
          }
        }
      } finally {
        u.dispose();
      }
    }
    opts.finish?.(acc, b);
    writer.append(acc);
    opts.progress?.(t1 / m);
  }
}

/** Soft-thresholding S(τ, t) = sign(τ) · max(|τ| − t, 0), in place. */
export function softThreshold(values: Float32Array, t: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    values[i] = v > t ? v - t : v < -t ? v + t : 0;
  }
}
