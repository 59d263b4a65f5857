/**
 * Per-example gradient factors of the margin from a Network, for a whole batch in one
 * forward and one backward pass (never a loop over examples).
 *
 * Taps of zeros are added to every layer's pre-activation; because example i's margin
 * f_i depends only on row i, ∂(Σ_i f_i)/∂tap_l row i is δ_{l,i} = ∂f_i/∂(pre-activation
 * of layer l), for all examples at once. With a_{l,i} the layer's input (conv: im2col
 * patches per position, bias column appended) from the same forward pass, the
 * per-example weight gradient is G_{l,i} = Σ_p a_{l,i,p} ⊗ δ_{l,i,p}; projectors take
 * the factors (a, δ) and never need G (lib/projectors/types.ts).
 *
 *     f(z; θ) = logit_y − logsumexp_{y'≠y} logit_{y'},    p = σ(f)     (models/margin.ts)
 */
import { tf } from '../backend.ts';
import { margin } from '../models/margin.ts';
import type { Network } from '../models/types.ts';
import type { LayerFactors } from '../projectors/types.ts';

export interface FactorBatch {
  /** Factors of the selected layers, in the order asked for. Caller disposes. */
  layers: LayerFactors[];
  /** f(z_i; θ) for the batch. */
  margins: Float32Array;
}

/**
 * (a_l, δ_l) for the layers `which` (indices into net.layers) and the margins of a
 * batch x [B, ...] with labels y [B]. One forward, one backward.
 */
export function gradientFactors(net: Network, x: tf.Tensor, y: tf.Tensor1D, which: number[]): FactorBatch {
  const batch = x.shape[0];
  const taps = net.tapShapes(batch).map((shape) => tf.zeros(shape) as tf.Tensor3D);
  let inputs: tf.Tensor3D[] = [];
  let margins: tf.Tensor1D | undefined;
  let deltas: tf.Tensor[] = [];
  try {
    deltas = tf.grads((...t: tf.Tensor[]) => {
      const out = net.forwardTapped(x, t as tf.Tensor3D[]);
      // Keep what the backward pass would otherwise dispose: the layer inputs and f.
      inputs = out.inputs.map((a) => tf.keep(a));
      const f = margin(out.logits, y);
      margins = tf.keep(f);
      return tf.sum(f);
    })(taps);
    const layers = which.map((l) => ({ a: inputs[l], d: deltas[l] as tf.Tensor3D }));
    const used = new Set<tf.Tensor>(layers.flatMap((f) => [f.a, f.d]));
    const m = margins!.dataSync() as Float32Array;
    for (const t of [...inputs, ...deltas]) if (!used.has(t)) t.dispose();
    return { layers, margins: Float32Array.from(m) };
  } catch (e) {
    for (const t of [...inputs, ...deltas]) t.dispose();
    throw e;
  } finally {
    for (const t of taps) t.dispose();
    margins?.dispose();
  }
}

/** σ(f) elementwise. */
export function sigmoid(f: Float32Array): Float32Array {
  return f.map((v) => 1 / (1 + Math.exp(-v)));
}

/** Indices of the named layers (all layers when `names` is undefined), with a clear error for unknown names. */
export function selectLayers(net: Network, names?: string[]): number[] {
  if (!names) return net.layers.map((_, i) => i);
  const known = net.layers.map((l) => l.name);
  return names.map((name) => {
    const i = known.indexOf(name);
    if (i < 0) throw new Error(`grad_wrt: no layer named "${name}" (the model's layers: ${known.join(', ')})`);
    return i;
  });
}
