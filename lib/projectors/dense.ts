/**
 * Dense random projections, as the TRAK paper uses: φ_i = Pᵀ g_i with P ∈ R^{p×k},
 *
 *     gaussian:    P_rj ~ N(0, 1/k)          rademacher:  P_rj = ±1/√k
 *
 * so E[φᵀφ'] = gᵀg' (Johnson–Lindenstrauss). P is never stored and never whole in
 * memory: its rows follow g's order (layer by layer, [W; b] row-major within a layer),
 * and each block of BLOCK_ROWS·outDim rows of P, i.e. BLOCK_ROWS input rows of one
 * layer, is regenerated on demand from the stream Rng(seed, "projector", kind, layer,
 * block). The blocking is part of P's definition: changing BLOCK_P_ROWS changes P.
 *
 * Blocks are cached as tensors up to `cacheBytes`; the first ones that fit stay and the
 * rest are regenerated every batch (every batch reads the blocks in the same order, so
 * an evicting cache would miss every time). Cost per batch of B examples: 2·B·p·k flops
 * of matMul, plus regenerating the uncached part of P (about 30-60 M values/s in JS).
 * The per-example gradients G_i are materialized one block of rows at a time.
 */
import { tf } from '../backend.ts';
import { Rng } from '../random/rng.ts';
import { checkFactors, layerGradientRows } from './layer-gradients.ts';
import type { LayerFactors, LayerShape, Projector, ProjectorSpec } from './types.ts';

/** Target rows of P per block (a block is whole input rows of one layer). */
export const BLOCK_P_ROWS = 2048;

export interface DenseOptions {
  /** Bytes of P blocks kept between batches (default 256 MiB). */
  cacheBytes?: number;
}

interface Block {
  layer: number;
  index: number;
  /** Input rows [r0, r1) of the layer. */
  r0: number;
  r1: number;
  /** P rows: (r1 − r0) · outDim. */
  rows: number;
}

export class DenseProjector implements Projector {
  readonly dim: number;
  private readonly blocks: Block[] = [];
  private readonly cache = new Map<Block, tf.Tensor2D>();
  private cachedBytes = 0;
  private readonly budget: number;

  constructor(readonly spec: ProjectorSpec, private readonly layers: readonly LayerShape[], opts: DenseOptions = {}) {
    if (spec.kind !== 'gaussian' && spec.kind !== 'rademacher') throw new Error(`DenseProjector: kind ${spec.kind}`);
    this.dim = spec.dim;
    this.budget = opts.cacheBytes ?? 256 << 20;
    layers.forEach((l, layer) => {
      const per = Math.max(1, Math.floor(BLOCK_P_ROWS / l.outDim));
      for (let r0 = 0, index = 0; r0 < l.inDim; r0 += per, index++) {
        const r1 = Math.min(l.inDim, r0 + per);
        this.blocks.push({ layer, index, r0, r1, rows: (r1 - r0) * l.outDim });
      }
    });
  }

  /** P's rows for one block, [rows, k] row-major float32. */
  blockValues(layer: number, index: number): Float32Array {
    const b = this.blocks.find((x) => x.layer === layer && x.index === index);
    if (!b) throw new Error(`DenseProjector: no block ${index} in layer ${layer}`);
    return this.generate(b);
  }

  /** The whole P [p, k] (for tests on small models only). */
  matrix(): Float32Array {
    const k = this.dim;
    const total = this.blocks.reduce((s, b) => s + b.rows, 0);
    const out = new Float32Array(total * k);
    let at = 0;
    for (const b of this.blocks) {
      out.set(this.generate(b), at);
      at += b.rows * k;
    }
    return out;
  }

  private generate(b: Block): Float32Array {
    const k = this.dim;
    const rng = Rng.from(this.spec.seed, 'projector', this.spec.kind, b.layer, b.index);
    const values = new Float32Array(b.rows * k);
    const scale = 1 / Math.sqrt(k);
    return this.spec.kind === 'gaussian' ? rng.fillNormal(values, scale) : rng.fillRademacher(values, scale);
  }

  private tensor(b: Block): { p: tf.Tensor2D; cached: boolean } {
    const hit = this.cache.get(b);
    if (hit) return { p: hit, cached: true };
    const p = tf.tensor2d(this.generate(b), [b.rows, this.dim]);
    const bytes = b.rows * this.dim * 4;
    if (this.cachedBytes + bytes <= this.budget) {
      this.cache.set(b, p);
      this.cachedBytes += bytes;
      return { p, cached: true };
    }
    return { p, cached: false };
  }

  project(layers: LayerFactors[]): tf.Tensor2D {
    const batch = checkFactors(layers, this.layers);
    let phi: tf.Tensor2D = tf.zeros([batch, this.dim]);
    for (const b of this.blocks) {
      const { p, cached } = this.tensor(b);
      const next = tf.tidy(() => tf.add(phi, tf.matMul(layerGradientRows(layers[b.layer], b.r0, b.r1), p)) as tf.Tensor2D);
      phi.dispose();
      if (!cached) p.dispose();
      phi = next;
    }
    return phi;
  }

  dispose(): void {
    for (const p of this.cache.values()) p.dispose();
    this.cache.clear();
    this.cachedBytes = 0;
  }
}
