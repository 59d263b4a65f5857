/**
 * No projection: φ_i = g_i (k = number of parameters), for small models where exact
 * influence must be checkable. g_i = concat_l vec(G_{l,i}) in the parameter order of
 * models/types.ts.
 */
import { tf } from '../backend.ts';
import { checkFactors, layerGradientRows } from './layer-gradients.ts';
import type { LayerFactors, LayerShape, Projector, ProjectorSpec } from './types.ts';

export class IdentityProjector implements Projector {
  readonly dim: number;

  constructor(readonly spec: ProjectorSpec, private readonly layers: readonly LayerShape[]) {
    this.dim = layers.reduce((s, l) => s + l.inDim * l.outDim, 0);
  }

  project(layers: LayerFactors[]): tf.Tensor2D {
    checkFactors(layers, this.layers);
    return tf.tidy(() => {
      const parts = layers.map((l) => layerGradientRows(l, 0, l.a.shape[2]));
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    });
  }

  dispose(): void {}
}
