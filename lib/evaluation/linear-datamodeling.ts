/**
 * The linear datamodeling score (Park et al., TRAK, ICML 2023, eq. 5), as plain arrays.
 *
 * For target j, subsets S_1..S_m (0/1 masks over the n train examples), scores τ(x_j):
 *     ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i                         (the linear datamodel's prediction)
 *     LDS_j   = spearman_k( ĝ_j(S_k), f(x_j; θ(S_k)) )        (against the real margin)
 *     LDS     = mean_j LDS_j
 * A target whose prediction or margin is constant over the subsets has no ranking: its
 * Spearman is undefined and counted as 0 (reported as `undefinedTargets`).
 */
import { Rng } from '../random/rng.ts';
import { spearman } from '../linalg/index.ts';

/** ĝ[j, k] = Σ_i scores[j, i]·masks[k, i], as [nTargets, nSubsets] float64. */
export function subsetPredictions(scores: Float32Array | Float64Array, nTargets: number, nTrain: number, masks: Uint8Array, nSubsets: number): Float64Array {
  if (scores.length !== nTargets * nTrain) throw new Error(`scores: ${scores.length} values is not ${nTargets}×${nTrain}`);
  if (masks.length !== nSubsets * nTrain) throw new Error(`masks: ${masks.length} values is not ${nSubsets}×${nTrain}`);
  const out = new Float64Array(nTargets * nSubsets);
  const members = new Int32Array(nTrain);
  for (let k = 0; k < nSubsets; k++) {
    let size = 0;
    const row = k * nTrain;
    for (let i = 0; i < nTrain; i++) if (masks[row + i]) members[size++] = i;
    for (let j = 0; j < nTargets; j++) {
      const base = j * nTrain;
      let s = 0;
      for (let l = 0; l < size; l++) s += scores[base + members[l]];
      out[j * nSubsets + k] = s;
    }
  }
  return out;
}

export interface PerTarget {
  /** Spearman per target; undefined ones are 0. */
  lds: Float64Array;
  /** How many targets had a constant prediction or margin. */
  undefinedTargets: number;
}

/** LDS_j for rows of predictions and truths, both [nTargets, nSubsets]. */
export function ldsPerTarget(predictions: Float64Array, truths: Float64Array | Float32Array, nTargets: number, nSubsets: number): PerTarget {
  const lds = new Float64Array(nTargets);
  let undefinedTargets = 0;
  for (let j = 0; j < nTargets; j++) {
    const r = spearman(predictions.subarray(j * nSubsets, (j + 1) * nSubsets), truths.subarray(j * nSubsets, (j + 1) * nSubsets));
    if (Number.isNaN(r)) undefinedTargets++;
    else lds[j] = r;
  }
  return { lds, undefinedTargets };
}

export interface Summary {
  mean: number;
  /** Sample standard deviation over targets (ddof = 1). */
  std: number;
  /** Percentile bootstrap interval of the mean over targets. */
  low: number;
  high: number;
}

/**
 * Mean, std and a percentile bootstrap interval of the mean: resample the targets with
 * replacement `resamples` times; the interval is the (1−ci)/2 and (1+ci)/2 quantiles of
 * the resampled means (linear interpolation, numpy's default). No resamples: low = high = mean.
 */
export function summarize(values: ArrayLike<number>, resamples: number, ci: number, rng: Rng): Summary {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, low: Number.NaN, high: Number.NaN };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  if (resamples <= 0) return { mean, std, low: mean, high: mean };
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[rng.int(n)];
    means[b] = s / n;
  }
  means.sort();
  return { mean, std, low: quantile(means, (1 - ci) / 2), high: quantile(means, (1 + ci) / 2) };
}

/** Quantile q of sorted values, linear interpolation between order statistics. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Average the margins of models trained on the same mask: truth[j, k] = mean over the
 * models m with maskOf[m] = k of margins[m, targetIndex[j]], as [nTargets, nMasks].
 * Every mask 0..nMasks−1 must have at least one model.
 */
export function marginsPerMask(margins: Float32Array, nModels: number, nTest: number, maskOf: Int32Array, nMasks: number, targetIndex: Int32Array): { truth: Float64Array; seedsPerMask: Int32Array } {
  const seedsPerMask = new Int32Array(nMasks);
  for (let m = 0; m < nModels; m++) {
    const k = maskOf[m];
    if (k < 0 || k >= nMasks) throw new Error(`model ${m} was trained on mask ${k}, outside 0..${nMasks - 1}`);
    seedsPerMask[k]++;
  }
  const missing = seedsPerMask.findIndex((c) => c === 0);
  if (missing >= 0) throw new Error(`no model was trained on mask ${missing}`);
  const nTargets = targetIndex.length;
  const truth = new Float64Array(nTargets * nMasks);
  for (let m = 0; m < nModels; m++) {
    const k = maskOf[m];
    for (let j = 0; j < nTargets; j++) truth[j * nMasks + k] += margins[m * nTest + targetIndex[j]];
  }
  for (let j = 0; j < nTargets; j++) for (let k = 0; k < nMasks; k++) truth[j * nMasks + k] /= seedsPerMask[k];
  return { truth, seedsPerMask };
}
