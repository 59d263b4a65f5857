/**
 * Reading a `features` artifact (written by linearize, layout in lib/artifacts.ts
 * FEATURES): per model s, φ_{s,i} for the train split and φ_s(x_j) for the targets,
 * plus p_{s,i}, the correct-class probability at θ_s.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURES, MASKS, MODELS } from '../artifacts.ts';
import { readNpy, readNpyHeader, readNpyRows } from '../io/npy.ts';
import type { ProjectorSpec } from '../projectors/types.ts';

/** features.json */
export interface FeaturesMeta {
  /** Feature sets: one per model, or per (model, checkpoint) when `checkpoints` is set (model-major). */
  models: number;
  /** Checkpoint epochs each model was linearized at (linearize `checkpoints`); absent: final parameters. */
  checkpoints?: number[];
  /** Feature dimension k (the number of parameters for the identity projector). */
  k: number;
  /** Model 0's projector; model s's seed is projector.seed + 10⁴·s when perModel. */
  projector: ProjectorSpec;
  /** Each model has its own P (false only for the `projector.shared` ablation). */
  perModel: boolean;
  nTrain: number;
  nTargets: number;
  /** The layers whose gradients are featurized (grad_wrt), with their [W; b] shapes. */
  layers: { name: string; inDim: number; outDim: number }[];
  /** Number of parameters those layers hold (the length of the unprojected g_i). */
  params: number;
  /** Gradient of the margin f (also when absent: features written before the option) or of the loss ℓ. */
  output?: 'margin' | 'loss';
}

export interface FeaturesView {
  /** The store entry. */
  dir: string;
  meta: FeaturesMeta;
  /** Absolute paths of model s's arrays. */
  trainPath(s: number): string;
  targetsPath(s: number): string;
  /** [models][nTrain] correct-class probabilities. */
  probs(): Float32Array[];
  targetIndex(): Int32Array;
}

/** The features artifact in store entry `dir`. */
export function openFeatures(dir: string): FeaturesView {
  const meta = JSON.parse(readFileSync(join(dir, FEATURES.meta), 'utf8')) as FeaturesMeta;
  const view: FeaturesView = {
    dir,
    meta,
    trainPath: (s) => join(dir, FEATURES.train(s)),
    targetsPath: (s) => join(dir, FEATURES.targets(s)),
    probs() {
      const p = readNpy(join(dir, FEATURES.probsTrain));
      const [S, n] = p.shape;
      const data = p.data as Float32Array;
      return Array.from({ length: S }, (_, s) => data.subarray(s * n, (s + 1) * n));
    },
    targetIndex: () => readNpy(join(dir, FEATURES.targetIndex)).data as Int32Array,
  };
  const h = readNpyHeader(view.trainPath(0));
  if (h.shape[0] !== meta.nTrain || h.shape[1] !== meta.k) {
    throw new Error(`${view.trainPath(0)}: shape ${JSON.stringify(h.shape)} does not match features.json (nTrain ${meta.nTrain}, k ${meta.k})`);
  }
  return view;
}

/** Mean over models of (1 − p_{s,i}): TRAK's "Q" term. */
export function meanOneMinusP(probs: Float32Array[]): Float32Array {
  const n = probs[0].length;
  const q = new Float32Array(n);
  for (const p of probs) for (let i = 0; i < n; i++) q[i] += (1 - p[i]) / probs.length;
  return q;
}

/** The store entries of the models a features artifact was computed from and of the masks they were trained on. */
export interface TrainedOn {
  models: string;
  masks: string;
}

/**
 * The train examples model s was trained on (1 = in its subset): its row of the masks
 * (models → maskOf.npy picks the row); undefined when the models were not trained on
 * masks (then every train example counts).
 */
export function trainingMask(features: FeaturesView, s: number, trainedOn: TrainedOn | undefined): Uint8Array | undefined {
  if (!trainedOn) return undefined;
  const maskOf = readNpy(join(trainedOn.models, MODELS.maskOf)).data as Int32Array;
  const row = readNpyRows(join(trainedOn.masks, MASKS.masks), maskOf[s], maskOf[s] + 1);
  if (row.data.length !== features.meta.nTrain) {
    throw new Error(`${trainedOn.masks}: masks cover ${row.data.length} train examples, the features ${features.meta.nTrain}`);
  }
  return row.data as Uint8Array;
}
