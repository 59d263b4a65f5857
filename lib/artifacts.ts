/**
 * The file layout of each artifact kind: the contract between stage kinds. A stage
 * reads an upstream artifact only through these names. All arrays are .npy, C order.
 * Paths are relative to the artifact's store entry (`Artifact.dir`).
 *
 * Changing a layout means bumping the version of the kind that writes it.
 */

/** Artifact `dataset`, written by the `dataset` stage. */
export const DATASET = {
  /** float32 [nTrain, ...featureShape]: features after normalization. */
  xTrain: 'x_train.npy',
  /** int32 [nTrain]: class labels 0..classes-1. */
  yTrain: 'y_train.npy',
  xTest: 'x_test.npy',
  yTest: 'y_test.npy',
  /** int32 [nTrain] / [nTest]: row indices into the source, for provenance and reports. */
  trainIndex: 'train_index.npy',
  testIndex: 'test_index.npy',
  /** int32 [nTrain] / [nTest]: group id per example (0..groups−1, −1 = none), only when DatasetMeta.groups is set. */
  groupTrain: 'group_train.npy',
  groupTest: 'group_test.npy',
  /** JSON DatasetMeta. */
  meta: 'dataset.json',
} as const;

export interface DatasetMeta {
  source: string;
  /** Shape of one example: [features] for tabular, [H, W, C] for images. */
  featureShape: number[];
  classes: number;
  classNames?: string[];
  featureNames?: string[];
  nTrain: number;
  nTest: number;
  /** True when examples are images (reports show them as pictures). */
  image: boolean;
  /** How train and test were made: a seeded split of one pool, or parts the source gave. */
  split?: 'random' | 'given';
  /** Normalization fitted on train and applied to both: x' = (x − shift) / scale per feature or channel. */
  normalization?: { kind: string; per: 'feature' | 'channel'; shift: number[]; scale: number[] };
  /** Files a csv/npy source read, with their sha256 (the stage hash covers params only). */
  files?: { path: string; sha256: string }[];
  /** Present when the source gives each example a group (csv groupColumn, offline-rl behavior policy): DATASET.groupTrain holds the ids. */
  groups?: { name: string; names: string[] };
}

/** Artifact `masks`, written by `subsets`. */
export const MASKS = {
  /** uint8 [count, nTrain]: 1 where example i is in subset k. */
  masks: 'masks.npy',
  /** float32 [count, knobs]: the knob setting θ of each draw (parametric subsets only). */
  theta: 'theta.npy',
  /** float32 [count, knobs]: π of group g's examples under draw k's θ (parametric subsets only; see lib/knobs). */
  inclusion: 'inclusion.npy',
  /** int32 [nTrain]: the knob group of each train example, −1 for none (parametric subsets only). */
  groupOf: 'group_of.npy',
  /** JSON {count, nTrain, alpha, mode, knobs?}. */
  meta: 'masks.json',
} as const;

/**
 * Artifact `models`, written by `train`. Model m (m = mask * seeds + seed) lives in
 * `units/<m>/model/` (tfjs model.json + weights, see lib/models). The combined
 * arrays are [models, examples].
 */
export const MODELS = {
  modelDir: (m: number) => `units/${m}/model`,
  /** Intermediate checkpoints for TracIn: units/<m>/checkpoints/<epoch>/ */
  checkpointDir: (m: number, epoch: number) => `units/${m}/checkpoints/${epoch}`,
  /** float32 [models, nTrain]: margin f(z_i; θ_m) of every train example. */
  marginsTrain: 'margins_train.npy',
  marginsTest: 'margins_test.npy',
  /** float32 [models, n]: correct-class probability p = σ(f). */
  probsTrain: 'probs_train.npy',
  probsTest: 'probs_test.npy',
  /**
   * float32 [models, n]: cross-entropy ℓ(z_i; θ_m) as torch computes it (dattri's LDS
   * target is −ℓ). Absent from models trained before it was recorded.
   */
  lossesTrain: 'losses_train.npy',
  lossesTest: 'losses_test.npy',
  /** int32 [models]: which mask each model was trained on. */
  maskOf: 'mask_of_model.npy',
  /** int32 [models]: which seed (0..seeds-1) of its mask each model is. */
  seedOf: 'seed_of_model.npy',
  /** Files of one unit (model m), inside `units/<m>/`: float32 [nTrain] / [nTest]. */
  unit: {
    marginsTrain: 'margins_train.npy',
    marginsTest: 'margins_test.npy',
    probsTrain: 'probs_train.npy',
    probsTest: 'probs_test.npy',
    lossesTrain: 'losses_train.npy',
    lossesTest: 'losses_test.npy',
    /** JSON {mask, seed, trainAccuracy, testAccuracy, ...}. */
    meta: 'fit.json',
  },
  /** JSON {models, seeds, masks, trainAccuracy: number[], testAccuracy: number[], checkpoints: {epoch, lr}[]} */
  meta: 'models.json',
} as const;

/**
 * Artifact `features`, written by `linearize`: per model s, projected gradients
 * φ_{s,i} = Pᵀ ∇θ f(z_i; θ_s).
 */
export const FEATURES = {
  /** float32 [nTrain, k] */
  train: (s: number) => `train_${s}.npy`,
  /** float32 [nTargets, k] */
  targets: (s: number) => `targets_${s}.npy`,
  /** float32 [models, nTrain]: p_{s,i}, correct-class probability at θ_s. */
  probsTrain: 'probs_train.npy',
  /** int32 [nTargets]: indices of the targets in the data set's test split. */
  targetIndex: 'target_index.npy',
  /** JSON {models, k, projector, nTrain, nTargets, layers} */
  meta: 'features.json',
} as const;

/** Artifact `scores`, written by trak and every baseline: τ(x_j)_i. */
export const SCORES = {
  /** float32 [nTargets, nTrain] */
  scores: 'scores.npy',
  /** int32 [nTargets]: indices into the test split. */
  targetIndex: 'target_index.npy',
  /** JSON [{target, proponents: {index, score}[], opponents: {index, score}[]}] */
  top: 'top.json',
  /** JSON {method, nTargets, nTrain, ...} */
  meta: 'scores.json',
} as const;

/** Artifact `lds`. */
export const LDS = {
  /** float32 [nTargets]: Spearman per target (NaN where undefined: dropped from the mean). */
  perTarget: 'lds_per_target.npy',
  /** float64 [nTargets, nSubsets]: ĝ_j(S_k), the scores summed over each subset. */
  predictions: 'predictions.npy',
  /** float64 [nTargets, nSubsets]: f̄(x_j; S_k), the ground truth (for paired comparisons). */
  truth: 'truth.npy',
  /** int32 [nTargets]: indices into the test split. */
  targetIndex: 'target_index.npy',
  /** JSON {lds, ldsStd, ci: [lo, hi], targets, subsets, seedsPerSubset, groundTruth, ...} */
  meta: 'lds.json',
} as const;

/**
 * Artifact `knobs`, written by `knobmodel` and `knob-predict`: predicted outputs at
 * held-out knob settings θ_k against the real ones (lib/knobs).
 */
export const KNOBS = {
  /** float32 [nTargets, draws]: predicted output of target j at held-out draw k. */
  predictions: 'predictions.npy',
  /** float32 [nTargets, draws]: the real output (margin averaged over the seeds of draw k). */
  truth: 'truth.npy',
  /** float32 [nTargets]: Spearman over the held-out draws, per target. */
  perTarget: 'spearman_per_target.npy',
  /** float32 [nTargets, knobs]: ∂prediction/∂θ_g (centered over knobs for a mixture, whose θ sum to 1). */
  slopes: 'slopes.npy',
  /** int32 [nTargets]: indices of the targets in the test split. */
  targetIndex: 'target_index.npy',
  /** JSON {method, spearman, spearmanStd, targets, draws, knobs: names, slopesByClass, ...} */
  meta: 'knobs.json',
} as const;
