/**
 * The model output function of attrib (TRAK's for classification):
 *     f(z; θ) = logit_y − logsumexp_{y'≠y} logit_{y'},   p(z; θ) = σ(f) = softmax(logits)_y
 * and the batched evaluation of every example's margin, probability, loss and correctness.
 */
import { tf } from '../backend.ts';
import type { MarginFn, Network } from './types.ts';

/** Pushes the true class out of the logsumexp; exp(−1e9) is 0 in float32, and so is its gradient. */
const EXCLUDE = 1e9;

/** f = logit_y − logsumexp_{y'≠y} logit_{y'} for logits [B, C] and int32 labels [B]. Differentiable. */
export const margin: MarginFn = (logits, labels) =>
  tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    const own = tf.sum(tf.mul(logits, onehot), 1);
    const others = tf.logSumExp(tf.sub(logits, tf.mul(onehot, EXCLUDE)), 1);
    return tf.sub(own, others) as tf.Tensor1D;
  });

/** Mean cross-entropy −log softmax(logits)_y = softplus(−f): the training loss. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, onehot), 1))) as tf.Scalar;
  });
}

/**
 * Per-example cross-entropy ℓ = −log softmax(logits)_y [B], computed as torch's
 * CrossEntropyLoss does in float32: log Σ_j exp(z_j − m) − (z_y − m), m = max_j z_j.
 * Mathematically softplus(−f); the float32 rounding is the point: a confident example's
 * loss is exactly 0, as in dattri's ground truth (whose undefined targets come from it).
 */
export const perExampleLoss: MarginFn = (logits, labels) =>
  tf.tidy(() => {
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    const own = tf.sum(tf.mul(shifted, tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1])), 1);
    return tf.sub(tf.logSumExp(shifted, 1), own) as tf.Tensor1D;
  });

export interface Evaluation {
  /** float32 [n]: f(z_i; θ). */
  margins: Float32Array;
  /** float32 [n]: σ(f), the correct-class probability. */
  probs: Float32Array;
  /** float32 [n]: cross-entropy ℓ as torch computes it (perExampleLoss). */
  losses: Float32Array;
  /** uint8 [n]: 1 where argmax logits = y. */
  correct: Uint8Array;
  accuracy: number;
}

/**
 * Margins, probabilities and correctness of n examples, in batches. `x` is the whole
 * split: a tensor [n, ...featureShape] (not disposed), or its float32 rows with
 * `featureShape`, uploaded one batch at a time (keeps the wasm heap small, which never
 * shrinks once grown).
 */
export function evaluate(net: Network, x: tf.Tensor | Float32Array, y: Int32Array, batchSize = 1000, featureShape?: number[]): Evaluation {
  const n = y.length;
  const margins = new Float32Array(n);
  const probs = new Float32Array(n);
  const losses = new Float32Array(n);
  const correct = new Uint8Array(n);
  const shape = x instanceof Float32Array ? featureShape : x.shape.slice(1);
  if (!shape) throw new Error('evaluate: featureShape is required with float32 rows');
  const size = shape.reduce((a, b) => a * b, 1);
  let hits = 0;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const [m, p, l, c] = tf.tidy(() => {
      const xb = x instanceof Float32Array ? tf.tensor(x.subarray(start * size, end * size), [end - start, ...shape]) : tf.slice(x, start, end - start);
      const yb = tf.tensor1d(y.subarray(start, end), 'int32');
      const logits = net.logits(xb);
      const f = margin(logits, yb);
      return [f, tf.sigmoid(f), perExampleLoss(logits, yb), tf.equal(tf.argMax(logits, 1), yb)];
    });
    margins.set(m.dataSync() as Float32Array, start);
    probs.set(p.dataSync() as Float32Array, start);
    losses.set(l.dataSync() as Float32Array, start);
    const cv = c.dataSync();
    for (let i = 0; i < cv.length; i++) {
      correct[start + i] = cv[i] ? 1 : 0;
      hits += cv[i] ? 1 : 0;
    }
    tf.dispose([m, p, l, c]);
  }
  return { margins, probs, losses, correct, accuracy: n > 0 ? hits / n : NaN };
}
