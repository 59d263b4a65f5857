/**
 * The linear datamodeling score (Park et al., TRAK, ICML 2023, eq. 5), as plain arrays.
 *
 * For target j, subsets S_1..S_m (0/1 masks over the n train examples), scores τ(x_j):
 *     ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i                         (the linear datamodel's prediction)
 *     LDS_j   = spearman_k( ĝ_j(S_k), f(x_j; θ(S_k)) )        (against the real margin)
 *     LDS     = mean_j LDS_j
 * A target whose prediction or margin is constant over the subsets has no ranking: its
 * Spearman is undefined. The choice here (as dattri's LDS, which drops NaN correlations):
 * undefined targets are DROPPED from the mean and counted (`undefinedTargets`); the LDS
 * of a set where every target is undefined does not exist (NaN, and the lds stage fails).
 * ldsPerTarget's `lds` still holds 0 for them for callers that average over all targets.
 *
 * Intervals (ldsInterval, pairedLdsDifference): a percentile bootstrap that resamples the
 * targets AND the subsets (two-way): each resample draws T targets and K subsets with
 * replacement and recomputes every Spearman over the drawn subsets, so the interval
 * covers both the choice of evaluation targets and the finite set of subsets (a
 * targets-only bootstrap treats the subsets as fixed and is too narrow when K is small).
 * Paired differences draw the same targets and subsets for both methods, so the noise
 * they share cancels. A subset drawn twice ties with itself, and Spearman over such
 * samples runs low (by about 0.01 for K = 50 subsets on MNIST LR TRAK, where Pearson
 * moves by 0.002): an artifact of the resampling that the estimate over K distinct
 * subsets does not have, and that would put a plain percentile interval mostly below the
 * estimate. So the two-way interval is the percentile interval shifted by the estimate
 * minus the resamples' median (Efron's BC would shift it the other way, treating the
 * artifact as a bias of the estimate). Targets only: plain percentiles.
 */
import { Rng } from '../random/rng.ts';
import { pearson, rankAverage, spearman } from '../linalg/index.ts';

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
  /** Spearman per target; undefined ones are 0 (for callers that average over all). */
  lds: Float64Array;
  /** Spearman per target; NaN where undefined. */
  spearman: Float64Array;
  /** How many targets had a constant prediction or margin. */
  undefinedTargets: number;
  /** Of those, how many had constant predictions (e.g. all-zero scores) / a constant margin. */
  constantPredictions: number;
  constantTruth: number;
}

function isConstant(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

/** LDS_j for rows of predictions and truths, both [nTargets, nSubsets]. */
export function ldsPerTarget(predictions: Float64Array, truths: Float64Array | Float32Array, nTargets: number, nSubsets: number): PerTarget {
  const lds = new Float64Array(nTargets);
  const rho = new Float64Array(nTargets);
  let undefinedTargets = 0;
  let constantPredictions = 0;
  let constantTruth = 0;
  for (let j = 0; j < nTargets; j++) {
    const p = predictions.subarray(j * nSubsets, (j + 1) * nSubsets);
    const y = truths.subarray(j * nSubsets, (j + 1) * nSubsets);
    const r = spearman(p, y);
    rho[j] = r;
    if (Number.isNaN(r)) {
      undefinedTargets++;
      if (isConstant(p)) constantPredictions++;
      if (isConstant(y)) constantTruth++;
    } else lds[j] = r;
  }
  return { lds, spearman: rho, undefinedTargets, constantPredictions, constantTruth };
}

/** Mean and sample std (ddof = 1) of the values that are not NaN, and how many there were. */
export function meanDefined(values: ArrayLike<number>): { mean: number; std: number; defined: number } {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) (n++, (sum += values[i]));
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, defined: 0 };
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) ss += (values[i] - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, defined: n };
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

/** What a bootstrap resample draws with replacement. */
export const RESAMPLE = ['targets-and-subsets', 'targets'] as const;
export type Resample = (typeof RESAMPLE)[number];

export interface BootstrapOptions {
  /** Number of resamples; 0: no interval (low = high = the estimate). */
  resamples: number;
  /** Coverage of the percentile interval, e.g. 0.95. */
  ci: number;
  /** Default 'targets-and-subsets' (the two-way bootstrap, see the top of this file). */
  resample?: Resample;
  rng: Rng;
}

/**
 * Calls visit(rho, weight) once per resample: weight[j] = how often target j was drawn,
 * rho[m][j] = the Spearman of target j over the drawn subsets for prediction set m (all
 * sets on one truth, same draws). Entries with weight 0 are stale: skip them.
 */
function resampleCorrelations(
  predictions: readonly Float64Array[],
  truth: Float64Array | Float32Array,
  nTargets: number,
  nSubsets: number,
  o: BootstrapOptions,
  visit: (rho: readonly Float64Array[], weight: Int32Array) => void,
): void {
  const weight = new Int32Array(nTargets);
  // Targets only: the correlations never change, only the weights.
  const fixed = o.resample === 'targets' ? predictions.map((p) => ldsPerTarget(p, truth, nTargets, nSubsets).spearman) : undefined;
  const rho = predictions.map(() => new Float64Array(nTargets));
  const pick = new Int32Array(nSubsets);
  const x = new Float64Array(nSubsets);
  const y = new Float64Array(nSubsets);
  for (let b = 0; b < o.resamples; b++) {
    weight.fill(0);
    for (let t = 0; t < nTargets; t++) weight[o.rng.int(nTargets)]++;
    if (fixed) {
      visit(fixed, weight);
      continue;
    }
    for (let k = 0; k < nSubsets; k++) pick[k] = o.rng.int(nSubsets);
    for (let j = 0; j < nTargets; j++) {
      if (weight[j] === 0) continue;
      const row = j * nSubsets;
      for (let k = 0; k < nSubsets; k++) y[k] = truth[row + pick[k]];
      const truthRanks = rankAverage(y);
      for (let m = 0; m < predictions.length; m++) {
        for (let k = 0; k < nSubsets; k++) x[k] = predictions[m][row + pick[k]];
        rho[m][j] = pearson(rankAverage(x), truthRanks);
      }
    }
    visit(rho, weight);
  }
}

/**
 * The percentile interval of resampled statistics (NaN ones, where no target was
 * defined, left out); `recenter` shifts it by estimate − median(stats), so that the
 * resampling's own bias (ties, see the top of this file) does not move the interval.
 */
function percentileInterval(stats: Float64Array, ci: number, estimate: number, recenter: boolean): { low: number; high: number } {
  const finite = stats.filter((v) => !Number.isNaN(v)).sort();
  if (finite.length === 0) return { low: Number.NaN, high: Number.NaN };
  const shift = recenter ? estimate - quantile(finite, 0.5) : 0;
  return { low: quantile(finite, (1 - ci) / 2) + shift, high: quantile(finite, (1 + ci) / 2) + shift };
}

export interface LdsEstimate extends Summary {
  /** Targets whose Spearman is defined (the mean is over these). */
  defined: number;
}

/**
 * LDS of one prediction set [nTargets, nSubsets] against the truth: the mean Spearman
 * over the defined targets, its std, and a percentile bootstrap interval (two-way by
 * default). With no defined target every field is NaN.
 */
export function ldsInterval(predictions: Float64Array, truth: Float64Array | Float32Array, nTargets: number, nSubsets: number, o: BootstrapOptions): LdsEstimate {
  const { mean, std, defined } = meanDefined(ldsPerTarget(predictions, truth, nTargets, nSubsets).spearman);
  if (o.resamples <= 0 || defined === 0) return { mean, std, low: mean, high: mean, defined };
  const stats = new Float64Array(o.resamples);
  let b = 0;
  resampleCorrelations([predictions], truth, nTargets, nSubsets, o, ([rho], weight) => {
    stats[b++] = weightedMean(weight, (j) => rho[j]);
  });
  return { mean, std, defined, ...percentileInterval(stats, o.ci, mean, o.resample !== 'targets') };
}

export interface PairedDifference {
  /** mean_j (LDS_A,j − LDS_B,j) over the targets defined for both (= LDS_A − LDS_B when all are). */
  difference: number;
  low: number;
  high: number;
  /** Targets defined for both methods. */
  targets: number;
}

/**
 * A − B for two prediction sets on the same truth (same targets, same subsets): the
 * difference of their LDS with a paired bootstrap interval: every resample draws one set
 * of targets and subsets and scores both methods on it.
 */
export function pairedLdsDifference(a: Float64Array, b: Float64Array, truth: Float64Array | Float32Array, nTargets: number, nSubsets: number, o: BootstrapOptions): PairedDifference {
  if (a.length !== b.length || a.length !== truth.length) throw new Error(`pairedLdsDifference: predictions of ${a.length} and ${b.length} values for a truth of ${truth.length}`);
  const rhoA = ldsPerTarget(a, truth, nTargets, nSubsets).spearman;
  const rhoB = ldsPerTarget(b, truth, nTargets, nSubsets).spearman;
  const diff = (ra: ArrayLike<number>, rb: ArrayLike<number>) => (j: number) => ra[j] - rb[j];
  const all = new Int32Array(nTargets).fill(1);
  const difference = weightedMean(all, diff(rhoA, rhoB));
  const targets = all.reduce((n, _, j) => n + (Number.isNaN(rhoA[j] - rhoB[j]) ? 0 : 1), 0);
  if (o.resamples <= 0 || targets === 0) return { difference, low: difference, high: difference, targets };
  const stats = new Float64Array(o.resamples);
  let r = 0;
  resampleCorrelations([a, b], truth, nTargets, nSubsets, o, ([ra, rb], weight) => {
    stats[r++] = weightedMean(weight, diff(ra, rb));
  });
  return { difference, targets, ...percentileInterval(stats, o.ci, difference, o.resample !== 'targets') };
}

/** Σ_j w_j v(j) / Σ_j w_j over the j with w_j > 0 and v(j) defined; NaN if there are none. */
function weightedMean(weight: Int32Array, value: (j: number) => number): number {
  let sum = 0;
  let n = 0;
  for (let j = 0; j < weight.length; j++) {
    if (weight[j] === 0) continue;
    const v = value(j);
    if (Number.isNaN(v)) continue;
    sum += weight[j] * v;
    n += weight[j];
  }
  return n > 0 ? sum / n : Number.NaN;
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
