/**
 * Featurizing rows of a data set with one network: φ_i = Pᵀ∇θ f(z_i; θ) and p_i = σ(f_i),
 * batch by batch (one forward + one backward per batch, attribution/gradients.ts),
 * appended to an .npy as they come. Shared by linearize (final parameters) and tracin
 * (checkpoints), together with the target selection both take as params.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DATASET, type DatasetMeta } from '../artifacts.ts';
import { tf } from '../backend.ts';
import { NpyWriter, readNpyHeader, readNpyRows } from '../io/npy.ts';
import type { Network } from '../models/types.ts';
import { createProjector } from '../projectors/index.ts';
import type { LayerShape, Projector, ProjectorSpec } from '../projectors/types.ts';
import { deriveSeed } from '../random/rng.ts';
import { gradientFactors, selectLayers, sigmoid } from './margin-gradients.ts';

export const projectorParams = z
  .strictObject({
    kind: z
      .enum(['gaussian', 'rademacher', 'kronecker', 'identity'])
      .describe('P: dense gaussian or rademacher; kronecker (per-layer R_out ⊗ R_in, never materializes P or g_i); identity (exact gradients)'),
    dim: z.number().int().positive().optional().describe('k, the projected dimension (not used by identity: k = number of parameters)'),
    seed: z.number().int().optional().describe('base seed of P (default: derived from the stage hash); model s uses seed + 10⁴·s'),
    shared: z
      .boolean()
      .default(false)
      .describe('ablation only: one P for every model (default false: each model gets its own P, as TRAK and dattri do)'),
  })
  .describe('the random projection φ = Pᵀ g');
export type ProjectorParams = z.infer<typeof projectorParams>;

/**
 * The function whose gradient is featurized: the margin f (TRAK's output function, the
 * default), or the training loss ℓ = −log softmax(z)_y = softplus(−f), whose gradient
 * is −(1 − p)·∇f (dattri's Grad-Dot, Grad-Cos and TracIn use ∇ℓ on both sides).
 */
export const outputParam = z
  .enum(['margin', 'loss'])
  .optional()
  .describe('gradient of which output: margin f (default; what trak and influence expect) or loss ℓ = softplus(−f), ∇ℓ = −(1 − p)∇f (dattri\'s Grad-Dot and TracIn)');
export type FeatureOutput = 'margin' | 'loss';

/** −(1 − p) = −σ(−f) per row: ∇ℓ = −σ(−f)·∇f. */
export function lossGradientScale(margins: Float32Array): Float32Array {
  return Float32Array.from(margins, (f) => -1 / (1 + Math.exp(f)));
}

/** Which test examples are targets: the first `count` (default all), or explicit indices. */
export const targetsParams = z
  .union([
    z.strictObject({ split: z.literal('test'), count: z.number().int().positive().optional().describe('the first count test examples (default: all)') }),
    z.strictObject({ indices: z.array(z.number().int().nonnegative()).min(1).describe('test-split indices of the targets') }),
  ])
  .default({ split: 'test' })
  .describe('which test examples are targets: {split: test, count?} (the first count, default all) or {indices}');
export type TargetsParams = z.infer<typeof targetsParams>;

export const DIM_REQUIRED = 'projector.dim is required (the projected dimension k) unless projector.kind is identity';

/**
 * The projection of model `model`. Each model of an ensemble gets its own P, seeded
 * seed + 10⁴·s as MadryLab/trak does (projectors.py: `seed + 10**4 * model_id`), so the
 * sketch errors of the models are independent and average out over the ensemble; with
 * `shared` every model uses the base seed (an ablation).
 */
export function projectorSpec(p: ProjectorParams, stageHash: string, model: number): ProjectorSpec {
  const base = p.seed ?? deriveSeed(stageHash, 'projector');
  return { kind: p.kind, dim: p.dim ?? 0, seed: p.shared ? base : base + 10_000 * model };
}

/** dataset.json of the dataset artifact in store entry `dir`. */
export function datasetMeta(dir: string): DatasetMeta {
  return JSON.parse(readFileSync(join(dir, DATASET.meta), 'utf8')) as DatasetMeta;
}

/** Target indices into the test split, checked against its size. */
export function resolveTargets(t: TargetsParams, nTest: number, who: string): Int32Array {
  if ('indices' in t) {
    const bad = t.indices.find((i) => i >= nTest);
    if (bad !== undefined) throw new Error(`${who}: targets.indices contains ${bad}, but the test split has ${nTest} examples`);
    return Int32Array.from(t.indices);
  }
  const count = t.count ?? nTest;
  if (count > nTest) throw new Error(`${who}: targets.count = ${count}, but the test split has ${nTest} examples`);
  return Int32Array.from({ length: count }, (_, j) => j);
}

/** The [W; b] shapes of the chosen layers, as projectors take them. */
export function layerShapes(net: Network, which: number[]): LayerShape[] {
  return which.map((l) => ({ name: net.layers[l].name, inDim: net.layers[l].inDim + 1, outDim: net.layers[l].outDim }));
}

/** The layers `grad_wrt` names (default all): indices into net.layers and their shapes. */
export function chooseLayers(net: Network, gradWrt?: string[]): { which: number[]; layers: LayerShape[] } {
  const which = selectLayers(net, gradWrt);
  return { which, layers: layerShapes(net, which) };
}

/** A projector over the chosen layers of `net`. */
export function projectorFor(net: Network, spec: ProjectorSpec, gradWrt?: string[]): { projector: Projector; which: number[]; layers: LayerShape[] } {
  const { which, layers } = chooseLayers(net, gradWrt);
  return { projector: createProjector(spec, layers), which, layers };
}

export interface Rows {
  /** float32 [rows, ...featureShape] flattened. */
  x: Float32Array;
  y: Int32Array;
}

/** Rows of a split of the dataset in store entry `dataDir`: a contiguous range [start, end), or gathered by index. */
export function readRows(dataDir: string, split: 'train' | 'test', rows: Int32Array | [number, number]): Rows {
  const xPath = join(dataDir, split === 'train' ? DATASET.xTrain : DATASET.xTest);
  const yPath = join(dataDir, split === 'train' ? DATASET.yTrain : DATASET.yTest);
  const header = readNpyHeader(xPath);
  if (rows instanceof Int32Array && rows.length > 0 && rows.every((r, i) => r === rows[0] + i)) rows = [rows[0], rows[0] + rows.length];
  if (!(rows instanceof Int32Array)) {
    return { x: readNpyRows(xPath, rows[0], rows[1], header).data as Float32Array, y: readNpyRows(yPath, rows[0], rows[1]).data as Int32Array };
  }
  const size = header.shape.slice(1).reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * size);
  const y = new Int32Array(rows.length);
  const yHeader = readNpyHeader(yPath);
  rows.forEach((r, i) => {
    x.set(readNpyRows(xPath, r, r + 1, header).data as Float32Array, i * size);
    y[i] = (readNpyRows(yPath, r, r + 1, yHeader).data as Int32Array)[0];
  });
  return { x, y };
}

/**
 * Appends φ of every row to `out` ([rows, k]) and returns σ(f) per row. `featureShape`
 * is one example's shape (DatasetMeta.featureShape).
 */
export function featurize(
  net: Network,
  which: number[],
  projector: Projector,
  rows: Rows,
  featureShape: number[],
  batchSize: number,
  out: NpyWriter,
  progress?: (fraction: number) => void,
  output: FeatureOutput = 'margin',
): Float32Array {
  const size = featureShape.reduce((a, b) => a * b, 1);
  const n = rows.y.length;
  const probs = new Float32Array(n);
  for (let b0 = 0; b0 < n; b0 += batchSize) {
    const b1 = Math.min(n, b0 + batchSize);
    const xb = tf.tensor(rows.x.subarray(b0 * size, b1 * size), [b1 - b0, ...featureShape]);
    const yb = tf.tensor1d(rows.y.subarray(b0, b1), 'int32');
    try {
      const { layers, margins } = gradientFactors(net, xb, yb, which);
      let projected: tf.Tensor2D;
      try {
        projected = projector.project(layers);
      } finally {
        tf.dispose(layers.flatMap((l) => [l.a, l.d]));
      }
      if (output === 'loss') {
        // Pᵀ∇ℓ = −(1 − p)·Pᵀ∇f: the projection is linear, so scale the projected rows.
        const margin = projected;
        projected = tf.tidy(() => tf.mul(margin, tf.tensor2d(lossGradientScale(margins), [b1 - b0, 1])));
        margin.dispose();
      }
      out.append(projected.dataSync() as Float32Array);
      projected.dispose();
      probs.set(sigmoid(margins), b0);
    } finally {
      xb.dispose();
      yb.dispose();
    }
    progress?.(b1 / n);
  }
  return probs;
}
