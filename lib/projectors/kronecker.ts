/**
 * Kronecker-factored projection (docs/design.md "The math"; measured there as the best
 * projector for LDS per second). For layer l with per-example gradient
 * G = Σ_p a_p ⊗ δ_p ([in, out]):
 *
 *     P_l = R_in ⊗ R_out,   R_in ∈ R^{in×k_in} ~ N(0, 1/k_in),  R_out ∈ R^{out×k_out} ~ N(0, 1/k_out)
 *     P_lᵀ vec(G) = vec(R_inᵀ G R_out) = Σ_p vec((a_pᵀ R_in)ᵀ (δ_pᵀ R_out))
 *     φ = Σ_l P_lᵀ vec(G_l)       every layer projects into the SAME k = k_in·k_out dims, summed
 *
 * so neither P nor G is ever materialized: per batch it costs two thin matMuls per layer
 * ([B·P, in]·R_in and [B·P, out]·R_out) and one outer product (or, with P > 1 positions,
 * a batched [k_in, P]·[P, k_out] matMul). Entries of P_l have variance 1/k and the
 * layers are independent, so E[φᵀφ'] = gᵀg' as for a dense projection. Summing over
 * layers rather than concatenating per-layer blocks scored much higher LDS (0.64 vs
 * 0.48 on MNIST, docs/design.md).
 *
 * The split k = k_in·k_out of each layer (factorize below) maximizes the projection's
 * rank min(k_in, in)·min(k_out, out) (a factor wider than its side only wastes dims),
 * then prefers the most balanced split, then k_in ≥ k_out.
 */
import { tf } from '../backend.ts';
import { Rng } from '../random/rng.ts';
import { checkFactors } from './layer-gradients.ts';
import type { LayerFactors, LayerShape, Projector, ProjectorSpec } from './types.ts';

/** k = kIn · kOut for one layer of shape [inDim, outDim] (see the top of this file). */
export function factorize(k: number, inDim: number, outDim: number): { kIn: number; kOut: number } {
  let best = { kIn: k, kOut: 1 };
  let bestRank = -1;
  let bestImbalance = Infinity;
  for (let kOut = 1; kOut <= k; kOut++) {
    if (k % kOut !== 0) continue;
    const kIn = k / kOut;
    const rank = Math.min(kIn, inDim) * Math.min(kOut, outDim);
    const imbalance = Math.abs(Math.log(kIn / kOut));
    const better =
      rank > bestRank ||
      (rank === bestRank && imbalance < bestImbalance - 1e-12) ||
      (rank === bestRank && Math.abs(imbalance - bestImbalance) <= 1e-12 && kIn > kOut);
    if (better) {
      best = { kIn, kOut };
      bestRank = rank;
      bestImbalance = imbalance;
    }
  }
  return best;
}

export interface KroneckerFactors {
  kIn: number;
  kOut: number;
  /** R_in [inDim, kIn], row-major. */
  rIn: Float32Array;
  /** R_out [outDim, kOut], row-major. */
  rOut: Float32Array;
}

export class KroneckerProjector implements Projector {
  readonly dim: number;
  private readonly factorValues: KroneckerFactors[];
  private tensors: { rIn: tf.Tensor2D; rOut: tf.Tensor2D }[] | undefined;

  constructor(readonly spec: ProjectorSpec, private readonly layers: readonly LayerShape[]) {
    const k = spec.dim;
    this.dim = k;
    this.factorValues = layers.map((l, i) => {
      const { kIn, kOut } = factorize(k, l.inDim, l.outDim);
      const rng = Rng.from(spec.seed, 'projector', 'kronecker', i);
      return {
        kIn,
        kOut,
        rIn: rng.split('in').fillNormal(new Float32Array(l.inDim * kIn), 1 / Math.sqrt(kIn)),
        rOut: rng.split('out').fillNormal(new Float32Array(l.outDim * kOut), 1 / Math.sqrt(kOut)),
      };
    });
  }

  /** Layer l's factors (P_l = R_in ⊗ R_out), e.g. to build the dense equivalent in a test. */
  factors(layer: number): KroneckerFactors {
    return this.factorValues[layer];
  }

  project(layers: LayerFactors[]): tf.Tensor2D {
    const batch = checkFactors(layers, this.layers);
    this.tensors ??= this.factorValues.map((f, i) => ({
      rIn: tf.tensor2d(f.rIn, [this.layers[i].inDim, f.kIn]),
      rOut: tf.tensor2d(f.rOut, [this.layers[i].outDim, f.kOut]),
    }));
    const r = this.tensors;
    return tf.tidy(() => {
      let phi: tf.Tensor2D | undefined;
      for (let i = 0; i < layers.length; i++) {
        const l = layers[i];
        const { kIn, kOut } = this.factorValues[i];
        const [b, p, inDim] = l.a.shape;
        const outDim = l.d.shape[2];
        const ar = tf.matMul(tf.reshape(l.a, [b * p, inDim]), r[i].rIn); // [B·P, k_in]
        const dr = tf.matMul(tf.reshape(l.d, [b * p, outDim]), r[i].rOut); // [B·P, k_out]
        const outer =
          p === 1
            ? tf.mul(tf.reshape(ar, [b, kIn, 1]), tf.reshape(dr, [b, 1, kOut]))
            : tf.matMul(tf.transpose(tf.reshape(ar, [b, p, kIn]), [0, 2, 1]), tf.reshape(dr, [b, p, kOut]));
        const part = tf.reshape(outer, [batch, kIn * kOut]) as tf.Tensor2D;
        phi = phi ? (tf.add(phi, part) as tf.Tensor2D) : part;
      }
      return phi ?? tf.zeros([batch, this.dim]);
    });
  }

  dispose(): void {
    for (const t of this.tensors ?? []) {
      t.rIn.dispose();
      t.rOut.dispose();
    }
    this.tensors = undefined;
  }
}
