/**
 * Projectors map per-example gradients to k dimensions: φ_i = Pᵀ g_i (TRAK, eq. 8).
 *
 * Gradients arrive factored, one entry per linear layer, never flattened by the caller:
 * for layer l the per-example weight gradient is
 *     G_{l,i} = Σ_p a_{l,i,p} ⊗ δ_{l,i,p}      (a row-major [inDim, outDim] matrix)
 * where p runs over positions (1 for a dense layer, output pixels for a conv layer),
 * a is the layer input at that position (the conv patch, in [kh, kw, cin] order) with a
 * trailing 1 appended for the bias, and δ = ∂f/∂(pre-activation). Stacking [W; b] of
 * layer l as an [inDim, outDim] matrix, g_i = concat_l vec(G_{l,i}) in layer order is the
 * gradient with respect to all parameters, in the order models/types.ts defines.
 */
import type { tf } from '../backend.ts';

export interface LayerFactors {
  /** [B, P, inDim]: layer inputs per position, bias column (1) appended. */
  a: tf.Tensor3D;
  /** [B, P, outDim]: gradient of the output with respect to the pre-activation. */
  d: tf.Tensor3D;
}

export interface LayerShape {
  name: string;
  /** Including the bias row. */
  inDim: number;
  outDim: number;
}

export interface ProjectorSpec {
  kind: 'gaussian' | 'rademacher' | 'kronecker' | 'identity';
  /** k. Ignored by identity (k = number of parameters). */
  dim: number;
  seed: number;
}

export interface Projector {
  readonly spec: ProjectorSpec;
  /** Output dimension k. */
  readonly dim: number;
  /** φ for a batch: [B, k] float32. Disposes nothing it was given. */
  project(layers: LayerFactors[]): tf.Tensor2D;
  /** Releases cached random matrices. */
  dispose(): void;
}
