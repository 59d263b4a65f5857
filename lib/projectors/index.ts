/**
 * Projectors: φ_i = Pᵀ g_i from factored per-layer gradients (types.ts).
 *
 *   projector: {kind: gaussian | rademacher | kronecker | identity, dim: k, seed}
 *
 *   dense.ts      gaussian / rademacher: dense P regenerated block by block (TRAK)
 *   kronecker.ts  per layer R_in ⊗ R_out, all layers summed into the same k dims
 *   identity.ts   φ = g (k = number of parameters), for exact-influence checks
 */
import { DenseProjector, type DenseOptions } from './dense.ts';
import { IdentityProjector } from './identity.ts';
import { KroneckerProjector } from './kronecker.ts';
import type { LayerShape, Projector, ProjectorSpec } from './types.ts';

export type { LayerFactors, LayerShape, Projector, ProjectorSpec } from './types.ts';
export { DenseProjector, BLOCK_P_ROWS, type DenseOptions } from './dense.ts';
export { KroneckerProjector, factorize, type KroneckerFactors } from './kronecker.ts';
export { IdentityProjector } from './identity.ts';
export { layerGradientRows } from './layer-gradients.ts';

export const PROJECTOR_KINDS = ['gaussian', 'rademacher', 'kronecker', 'identity'] as const;

/** Output dimension k of a spec on these layers (identity: the number of parameters). */
export function projectedDim(spec: ProjectorSpec, layers: readonly LayerShape[]): number {
  return spec.kind === 'identity' ? layers.reduce((s, l) => s + l.inDim * l.outDim, 0) : spec.dim;
}

export function createProjector(spec: ProjectorSpec, layers: LayerShape[], opts: DenseOptions = {}): Projector {
  if (!layers.length) throw new Error('createProjector: no layers');
  for (const l of layers) {
    if (!(Number.isInteger(l.inDim) && l.inDim > 0 && Number.isInteger(l.outDim) && l.outDim > 0)) {
      throw new Error(`createProjector: layer ${l.name} has inDim ${l.inDim}, outDim ${l.outDim}`);
    }
  }
  if (spec.kind !== 'identity' && !(Number.isInteger(spec.dim) && spec.dim > 0)) {
    throw new Error(`projector.dim: expected a positive integer, got ${spec.dim}`);
  }
  if (!Number.isFinite(spec.seed)) throw new Error(`projector.seed: expected a number, got ${spec.seed}`);
  switch (spec.kind) {
    case 'gaussian':
    case 'rademacher':
      return new DenseProjector(spec, layers, opts);
    case 'kronecker':
      return new KroneckerProjector(spec, layers);
    case 'identity':
      return new IdentityProjector(spec, layers);
    default:
      throw new Error(`projector.kind: expected one of ${PROJECTOR_KINDS.join(', ')}, got ${JSON.stringify((spec as ProjectorSpec).kind)}`);
  }
}
