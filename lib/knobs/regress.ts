/**
 * Knob models: per target j, a regression of the output y_j(θ) on the knob setting θ,
 * fitted on the draws of a train stage and chosen by K-fold cross-validation.
 *
 *   features   linear:    φ(θ) = θ                                     (d)
 *              quadratic: φ(θ) = θ ⊕ (θ_a θ_b)_{a≤b}                   (d + d(d+1)/2)
 *   ridge      z = (φ − mean) / sd over the fitting draws (sd 0 → 1),
 *              w_j = (ZᵀZ + λ I)⁻¹ Zᵀ (y_j − ȳ_j),   λ = r · mean diag(ZᵀZ)
 *   predict    ŷ_j(θ) = ȳ_j + z(θ)ᵀ w_j
 *
 * r is picked per target from a grid by the mean squared error of the K-fold
 * predictions, and in `auto` mode the feature map too (linear or quadratic, whichever
 * has the lower CV error); the chosen model is then refitted on all fitting draws.
 * The Gram and the solves are float64 (lib/linalg ridgeSolve, all targets at once).
 */
import { ridgeSolve } from '../linalg/index.ts';
import { Rng } from '../random/rng.ts';

export type FeatureMap = 'linear' | 'quadratic';

/** φ(θ) for `count` rows of θ [count, d]: [count, p] float64. */
export function knobFeatures(theta: ArrayLike<number>, count: number, d: number, map: FeatureMap): { x: Float64Array; p: number } {
  const p = map === 'linear' ? d : d + (d * (d + 1)) / 2;
  const x = new Float64Array(count * p);
  for (let k = 0; k < count; k++) {
    let c = k * p;
    for (let a = 0; a < d; a++) x[c++] = theta[k * d + a];
    if (map === 'quadratic') for (let a = 0; a < d; a++) for (let b = a; b < d; b++) x[c++] = theta[k * d + a] * theta[k * d + b];
  }
  return { x, p };
}

export interface RidgeFit {
  p: number;
  /** Feature means and scales of the fitting rows. */
  mean: Float64Array;
  scale: Float64Array;
  /** Weights on the standardized features, [p, T] (column j = target j). */
  w: Float64Array;
  /** ȳ_j. */
  intercept: Float64Array;
}

/** Standardized rows of x (selected by `rows`) with their means and scales. */
function standardize(x: Float64Array, p: number, rows: ArrayLike<number>): { z: Float64Array; mean: Float64Array; scale: Float64Array } {
  const n = rows.length;
  const mean = new Float64Array(p);
  const scale = new Float64Array(p);
  for (let r = 0; r < n; r++) for (let a = 0; a < p; a++) mean[a] += x[rows[r] * p + a] / n;
  for (let r = 0; r < n; r++) for (let a = 0; a < p; a++) scale[a] += (x[rows[r] * p + a] - mean[a]) ** 2 / n;
  for (let a = 0; a < p; a++) scale[a] = scale[a] > 1e-24 ? Math.sqrt(scale[a]) : 1;
  const z = new Float64Array(n * p);
  for (let r = 0; r < n; r++) for (let a = 0; a < p; a++) z[r * p + a] = (x[rows[r] * p + a] - mean[a]) / scale[a];
  return { z, mean, scale };
}

/**
 * Ridge fits of y [T, K] (row j = target j over all draws) on x [K, p], using the draws
 * `rows`, for every relative λ in `lambdas`: one Gram, one solve per λ with all T
 * targets as right-hand sides.
 */
export function ridgePath(x: Float64Array, p: number, y: ArrayLike<number>, T: number, K: number, rows: ArrayLike<number>, lambdas: number[]): RidgeFit[] {
  const n = rows.length;
  const { z, mean, scale } = standardize(x, p, rows);
  const intercept = new Float64Array(T);
  for (let j = 0; j < T; j++) {
    let s = 0;
    for (let r = 0; r < n; r++) s += y[j * K + rows[r]];
    intercept[j] = s / n;
  }
  const g = new Float64Array(p * p);
  const b = new Float64Array(p * T);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < p; a++) {
      const za = z[r * p + a];
      for (let c = 0; c < p; c++) g[a * p + c] += za * z[r * p + c];
      for (let j = 0; j < T; j++) b[a * T + j] += za * (y[j * K + rows[r]] - intercept[j]);
    }
  }
  // A constant feature has an all-zero row and column: its unit diagonal keeps G + λI definite.
  const diag = Array.from({ length: p }, (_, a) => g[a * p + a]);
  const meanDiag = diag.reduce((s, v) => s + v, 0) / p;
  return lambdas.map((r) => {
    const lam = Math.max(r * meanDiag, 1e-12);
    const w = ridgeSolve(g, p, b, T, lam, { what: 'knob model ZᵀZ + λI' }).x;
    return { p, mean, scale, w, intercept };
  });
}

/** ŷ [T, rows.length] of a fit at the draws `rows` of x [K, p]. */
export function ridgePredict(fit: RidgeFit, x: Float64Array, rows: ArrayLike<number>, T: number): Float64Array {
  const { p, mean, scale, w, intercept } = fit;
  const m = rows.length;
  const out = new Float64Array(T * m);
  const z = new Float64Array(p);
  for (let r = 0; r < m; r++) {
    for (let a = 0; a < p; a++) z[a] = (x[rows[r] * p + a] - mean[a]) / scale[a];
    for (let j = 0; j < T; j++) {
      let s = intercept[j];
      for (let a = 0; a < p; a++) s += z[a] * w[a * T + j];
      out[j * m + r] = s;
    }
  }
  return out;
}

/** Slopes ∂ŷ/∂θ in θ's own units for a linear fit: [T, d]. */
export function linearSlopes(fit: RidgeFit, T: number): Float64Array {
  const d = fit.p;
  const out = new Float64Array(T * d);
  for (let j = 0; j < T; j++) for (let a = 0; a < d; a++) out[j * d + a] = fit.w[a * T + j] / fit.scale[a];
  return out;
}

/** Fold of each of K draws (0..folds−1), balanced, shuffled by `rng`. */
export function foldsOf(K: number, folds: number, rng: Rng): Int32Array {
  const perm = rng.permutation(K);
  const fold = new Int32Array(K);
  for (let r = 0; r < K; r++) fold[perm[r]] = r % folds;
  return fold;
}

export interface CvResult {
  /** Mean squared CV error, [lambdas, T]. */
  mse: Float64Array;
}

/** K-fold CV error of every λ on the draws `rows` (folds given per row of `rows`). */
export function crossValidate(x: Float64Array, p: number, y: ArrayLike<number>, T: number, K: number, rows: ArrayLike<number>, fold: Int32Array, folds: number, lambdas: number[]): CvResult {
  const mse = new Float64Array(lambdas.length * T);
  for (let f = 0; f < folds; f++) {
    const fit: number[] = [];
    const test: number[] = [];
    for (let r = 0; r < rows.length; r++) (fold[r] === f ? test : fit).push(rows[r]);
    if (test.length === 0 || fit.length < 2) continue;
    ridgePath(x, p, y, T, K, fit, lambdas).forEach((m, l) => {
      const pred = ridgePredict(m, x, test, T);
      for (let j = 0; j < T; j++) {
        for (let r = 0; r < test.length; r++) mse[l * T + j] += (pred[j * test.length + r] - y[j * K + test[r]]) ** 2 / rows.length;
      }
    });
  }
  return { mse };
}

export interface KnobModelFit {
  /** Per target: the feature map and relative λ chosen, and its CV error. */
  map: FeatureMap[];
  lambda: Float64Array;
  cvMse: Float64Array;
  /** Predictions at the evaluation draws, [T, evalRows.length]. */
  predictions: Float64Array;
  /** The linear model's slopes at its own CV-chosen λ (whatever `map` is): [T, d]. */
  slopes: Float64Array;
  /** Its intercept in θ units: ŷ = b + θᵀ slopes. */
  linearIntercept: Float64Array;
}

/**
 * Fits the knob model of every target on the draws `fitRows` of θ [K, d] / y [T, K],
 * choosing feature map and λ per target by `folds`-fold CV, and predicts the draws
 * `evalRows` of θ' [K', d] (pass θ' = θ for a held-out fraction of the same stage).
 */
export function fitKnobModel(opts: {
  theta: ArrayLike<number>;
  K: number;
  d: number;
  y: ArrayLike<number>;
  T: number;
  fitRows: ArrayLike<number>;
  evalTheta: ArrayLike<number>;
  evalK: number;
  evalRows: ArrayLike<number>;
  maps: FeatureMap[];
  lambdas: number[];
  folds: number;
  rng: Rng;
}): KnobModelFit {
  const { theta, K, d, y, T, fitRows, evalTheta, evalK, evalRows, lambdas, rng } = opts;
  const folds = Math.min(opts.folds, fitRows.length);
  const fold = foldsOf(fitRows.length, folds, rng);
  const L = lambdas.length;
  const cv = new Map<FeatureMap, { x: Float64Array; p: number; mse: Float64Array }>();
  for (const map of new Set<FeatureMap>(['linear', ...opts.maps])) {
    const { x, p } = knobFeatures(theta, K, d, map);
    cv.set(map, { x, p, mse: crossValidate(x, p, y, T, K, fitRows, fold, folds, lambdas).mse });
  }
  const best = (map: FeatureMap, j: number) => {
    const mse = cv.get(map)!.mse;
    let l = 0;
    for (let m = 1; m < L; m++) if (mse[m * T + j] < mse[l * T + j]) l = m;
    return { l, mse: mse[l * T + j] };
  };
  const map: FeatureMap[] = [];
  const lambdaIndex = new Int32Array(T);
  const cvMse = new Float64Array(T);
  for (let j = 0; j < T; j++) {
    let choice: FeatureMap = opts.maps[0];
    let b = best(choice, j);
    for (const m of opts.maps.slice(1)) {
      const c = best(m, j);
      if (c.mse < b.mse) {
        choice = m;
        b = c;
      }
    }
    map.push(choice);
    lambdaIndex[j] = b.l;
    cvMse[j] = b.mse;
  }
  const m = evalRows.length;
  const predictions = new Float64Array(T * m);
  for (const [fm, { x, p }] of cv) {
    if (!map.includes(fm)) continue;
    const path = ridgePath(x, p, y, T, K, fitRows, lambdas);
    const xe = knobFeatures(evalTheta, evalK, d, fm).x;
    const preds = path.map((fit) => ridgePredict(fit, xe, evalRows, T));
    for (let j = 0; j < T; j++) if (map[j] === fm) predictions.set(preds[lambdaIndex[j]].subarray(j * m, (j + 1) * m), j * m);
  }
  // The linear model's slopes at its own best λ, for reading which knob moves what.
  const lin = cv.get('linear')!;
  const linPath = ridgePath(lin.x, lin.p, y, T, K, fitRows, lambdas);
  const slopes = new Float64Array(T * d);
  const linearIntercept = new Float64Array(T);
  for (let j = 0; j < T; j++) {
    const fit = linPath[best('linear', j).l];
    const s = linearSlopes(fit, T);
    let b = fit.intercept[j];
    for (let a = 0; a < d; a++) {
      slopes[j * d + a] = s[j * d + a];
      b -= s[j * d + a] * fit.mean[a];
    }
    linearIntercept[j] = b;
  }
  return { map, lambda: Float64Array.from(lambdaIndex, (l) => lambdas[l]), cvMse, predictions, slopes, linearIntercept };
}
