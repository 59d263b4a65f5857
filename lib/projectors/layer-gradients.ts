/**
 * Per-example layer gradients from their factors (see types.ts):
 *
 *     G_i = Σ_p a_{i,p} ⊗ δ_{i,p} = A_iᵀ D_i          A_i: [P, in], D_i: [P, out]
 *
 * Only the identity and dense projectors materialize them (the kronecker projector never
 * does). One position (dense layers): a broadcast outer product; several (conv): a
 * batched matMul with an explicit transpose (on wasm, matMul's transpose flags are
 * 10-50x slower).
 */
import { tf } from '../backend.ts';
import type { LayerFactors } from './types.ts';

/** G for rows [r0, r1) of the layer input: [B, (r1 − r0) · out], row-major (row-input, column-output). */
export function layerGradientRows(layer: LayerFactors, r0: number, r1: number): tf.Tensor2D {
  const [b, p, inDim] = layer.a.shape;
  const outDim = layer.d.shape[2];
  if (r0 < 0 || r1 > inDim || r0 >= r1) throw new Error(`layerGradientRows: rows [${r0}, ${r1}) out of 0..${inDim}`);
  return tf.tidy(() => {
    const a = r0 === 0 && r1 === inDim ? layer.a : tf.slice(layer.a, [0, 0, r0], [b, p, r1 - r0]);
    const g =
      p === 1
        ? tf.mul(tf.reshape(a, [b, r1 - r0, 1]), tf.reshape(layer.d, [b, 1, outDim]))
        : tf.matMul(tf.transpose(a, [0, 2, 1]), layer.d);
    return tf.reshape(g, [b, (r1 - r0) * outDim]) as tf.Tensor2D;
  });
}

/** Checks the factors against the layer shapes the projector was built for. */
export function checkFactors(layers: readonly LayerFactors[], shapes: readonly { name: string; inDim: number; outDim: number }[]): number {
  if (layers.length !== shapes.length) throw new Error(`projector: got ${layers.length} layers, built for ${shapes.length}`);
  let batch = -1;
  layers.forEach((l, i) => {
    const s = shapes[i];
    const [b, p, inDim] = l.a.shape;
    const [bd, pd, outDim] = l.d.shape;
    if (inDim !== s.inDim || outDim !== s.outDim || b !== bd || p !== pd) {
      throw new Error(`projector: layer ${i} (${s.name}) factors a ${JSON.stringify(l.a.shape)}, d ${JSON.stringify(l.d.shape)} do not match inDim ${s.inDim}, outDim ${s.outDim}`);
    }
    if (batch >= 0 && b !== batch) throw new Error(`projector: layer ${i} has batch ${b}, layer 0 has ${batch}`);
    batch = b;
  });
  return batch;
}
