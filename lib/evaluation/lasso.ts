/**
 * L1-regularized least squares for many responses at once (the datamodels regression),
 * on a 0/1 design (the masks), by FISTA with per-column adaptive restart in tfjs matMuls.
 *
 * For each response column j (a target's margins over the models' masks):
 *     min_{w, b}  (1 / 2K) Σ_k (y_kj − b − x_kᵀ w)² + λ_j ‖w‖₁
 * (scikit-learn's Lasso objective). The intercept is not penalized: x and y are
 * centered, the solve is on (x − x̄, y − ȳ), and b = ȳ − x̄ᵀ w.
 *
 * FISTA (Beck & Teboulle 2009), all B columns in one [n, B] matrix:
 *     ∇ = Xcᵀ (Xc Z − Yc) / K
 *     W⁺ = S(Z − ∇/L, λ/L),   S(v, a) = sign(v) max(|v| − a, 0)
 *     Z⁺ = W⁺ + ((t − 1)/t⁺)(W⁺ − W),   t⁺ = (1 + √(1 + 4t²))/2
 * L = largest eigenvalue of Xcᵀ Xc / K (power iteration, with a safety margin). A column
 * restarts its momentum (t = 1) when ⟨Z − W⁺, W⁺ − W⟩ > 0 (O'Donoghue & Candès 2015).
 * A column has converged when max_i |W⁺ − W| ≤ tol · max(max_i |W⁺|, 1e-8).
 *
 * Path: λ_t = λ_max,j · r^{t/(T−1)}, t = 0..T−1, with λ_max,j = max_i |Xcᵀ y_j| / K (the
 * smallest λ whose solution is 0), warm-started from the previous λ. Each column's λ is
 * chosen by the mean squared error on held-out rows (predicted with the training rows'
 * centering); a column leaves the path once it has gone `patience` λ values past its
 * best (only the columns still improving are solved at the next λ). With `refit`, each column is then solved again on all rows at its chosen λ.
 *
 * Screening (`screening`, the sequential strong rule of Tibshirani et al., "Strong rules
 * for discarding predictors in lasso-type problems", JRSS-B 2012): at λ_t, feature i can
 * be left out of column j's solve when |x_iᵀ r_j| / K < 2λ_t − λ_{t−1}, r_j the residual
 * at the warm start (the solution at λ_{t−1}), unless it is nonzero there. A block solves
 * on the union U of its columns' kept features (a K × |U| design instead of K × n, so
 * each FISTA iteration costs |U|/n of a full one); then the KKT conditions are checked on
 * every left-out feature (|x_iᵀ r_j| / K ≤ λ_j, r_j now the residual of the solution), any
 * violator is added to U and the solve repeated, so the result is the lasso's own.
 */
import { tf } from '../backend.ts';

export interface LassoOptions {
  /** Number of λ values T on the path, log-spaced from λ_max. */
  pathLength: number;
  /** r = λ_min / λ_max. */
  lambdaMinRatio: number;
  /** Iteration cap per λ. */
  maxIter: number;
  /** Relative change that counts as converged. */
  tol: number;
  /** A column leaves the path once its held-out error has not improved for this many λ. */
  patience: number;
  /** Solve again on all rows at the chosen λ. */
  refit: boolean;
  /** Strong-rule screening with a KKT check (the same solution, less work per iteration). */
  screening?: boolean;
  log?: (message: string) => void;
  progress?: (fraction: number) => void;
}

export const defaultLassoOptions: LassoOptions = {
  pathLength: 20,
  lambdaMinRatio: 1e-2,
  maxIter: 500,
  tol: 1e-4,
  patience: 3,
  refit: true,
};

/** What FISTA needs of a design: (X − x̄) and its transpose, their size and a Lipschitz bound. */
export interface Design {
  readonly rows: number;
  readonly n: number;
  readonly xc: tf.Tensor2D;
  readonly xcT: tf.Tensor2D;
  readonly lipschitz: number;
}

/** A design restricted to some rows and centered with their means, on the tfjs backend. */
export class CenteredDesign implements Design {
  readonly rows: number;
  /** x̄ over the rows, [n]. */
  readonly mean: Float32Array;
  /** (X − x̄) [K, n] and its transpose [n, K] (explicit: transposed matMul flags are slow on wasm). */
  readonly xc: tf.Tensor2D;
  readonly xcT: tf.Tensor2D;
  private lipschitzCache: number | undefined;

  constructor(masks: Uint8Array, readonly n: number, rowIndex: ArrayLike<number>) {
    const K = (this.rows = rowIndex.length);
    const mean = (this.mean = new Float32Array(n));
    const counts = new Float64Array(n);
    for (let r = 0; r < K; r++) {
      const base = rowIndex[r] * n;
      for (let i = 0; i < n; i++) counts[i] += masks[base + i];
    }
    for (let i = 0; i < n; i++) mean[i] = counts[i] / K;
    const xc = new Float32Array(K * n);
    for (let r = 0; r < K; r++) {
      const base = rowIndex[r] * n;
      for (let i = 0; i < n; i++) xc[r * n + i] = masks[base + i] - mean[i];
    }
    this.xc = tf.tensor2d(xc, [K, n]);
    this.xcT = tf.transpose(this.xc);
  }

  /** Largest eigenvalue of Xcᵀ Xc / K, by power iteration, times a 10% margin (FISTA needs an upper bound). */
  get lipschitz(): number {
    if (this.lipschitzCache === undefined) {
      let v = tf.tidy(() => {
        // A fixed, non-degenerate start vector: the result must not depend on a random draw.
        const start = tf.add(tf.ones([this.n, 1]), tf.mul(tf.sin(tf.range(0, this.n).reshape([this.n, 1])), 0.5));
        return tf.div(start, tf.norm(start)) as tf.Tensor2D;
      });
      let value = 0;
      for (let it = 0; it < 100; it++) {
        const next = tf.tidy(() => tf.div(tf.matMul(this.xcT, tf.matMul(this.xc, v)), this.rows) as tf.Tensor2D);
        const norm = tf.norm(next).dataSync()[0];
        v.dispose();
        v = tf.tidy(() => tf.div(next, Math.max(norm, 1e-30)) as tf.Tensor2D);
        next.dispose();
        const converged = Math.abs(norm - value) <= 1e-4 * norm;
        value = norm;
        if (converged && it > 10) break;
      }
      v.dispose();
      this.lipschitzCache = Math.max(value, 1e-12) * 1.1;
    }
    return this.lipschitzCache;
  }

  /** Center responses Y [rowsAll, B] on this design's rows: returns (Y[rows] − ȳ, ȳ). */
  centerResponses(y: Float32Array, B: number, rowIndex: ArrayLike<number>): { yc: tf.Tensor2D; ymean: Float64Array } {
    const K = rowIndex.length;
    const ymean = new Float64Array(B);
    for (let r = 0; r < K; r++) for (let j = 0; j < B; j++) ymean[j] += y[rowIndex[r] * B + j];
    for (let j = 0; j < B; j++) ymean[j] /= K;
    const yc = new Float32Array(K * B);
    for (let r = 0; r < K; r++) for (let j = 0; j < B; j++) yc[r * B + j] = y[rowIndex[r] * B + j] - ymean[j];
    return { yc: tf.tensor2d(yc, [K, B]), ymean };
  }

  /** c = Xcᵀ Yc / K, [n, B]: the gradient at 0, whose column max |c| is λ_max. */
  correlation(yc: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.div(tf.matMul(this.xcT, yc), this.rows) as tf.Tensor2D);
  }

  dispose(): void {
    this.xc.dispose();
    this.xcT.dispose();
  }
}

/**
 * FISTA at fixed per-column λ (a [1, B] vector) from the warm start W0 [n, B]; W0 is not
 * disposed. A column that has converged leaves the block (the matrices are compacted to
 * the columns still running), so slow columns do not make the others pay. Returns the
 * solution and the iterations of the slowest column.
 */
export function fista(design: Design, yc: tf.Tensor2D, w0: tf.Tensor2D, lambda: Float32Array, maxIter: number, tol: number): { w: tf.Tensor2D; iterations: number } {
  const B = lambda.length;
  const n = design.n;
  const L = design.lipschitz;
  const K = design.rows;
  const out = new Float32Array(n * B);
  let columns = Int32Array.from({ length: B }, (_, j) => j);
  let threshold = tf.tensor2d(lambda.map((l) => l / L), [1, B]);
  let y = tf.clone(yc);
  let w = tf.clone(w0);
  let z = tf.clone(w0);
  let t = tf.ones([1, B]) as tf.Tensor2D;
  let iterations = 0;
  while (columns.length > 0) {
    iterations++;
    const [wNext, zNext, tNext, change] = tf.tidy(() => {
      const grad = tf.div(tf.matMul(design.xcT, tf.sub(tf.matMul(design.xc, z), y)), K);
      const v = tf.sub(z, tf.div(grad, L));
      const wn = tf.mul(tf.sign(v), tf.relu(tf.sub(tf.abs(v), threshold))) as tf.Tensor2D;
      const step = tf.sub(wn, w);
      const restart = tf.greater(tf.sum(tf.mul(tf.sub(z, wn), step), 0, true), 0);
      const tUsed = tf.where(restart, tf.onesLike(t), t);
      const tn = tf.div(tf.add(1, tf.sqrt(tf.add(1, tf.mul(4, tf.square(tUsed))))), 2) as tf.Tensor2D;
      const zn = tf.add(wn, tf.mul(tf.div(tf.sub(tUsed, 1), tn), step)) as tf.Tensor2D;
      const rel = tf.div(tf.max(tf.abs(step), 0), tf.maximum(tf.max(tf.abs(wn), 0), 1e-8));
      return [wn, zn, tn, rel];
    });
    tf.dispose([w, z, t]);
    w = wNext;
    z = zNext;
    t = tNext;
    const rel = change.dataSync();
    change.dispose();
    const finished: number[] = [];
    const running: number[] = [];
    for (let c = 0; c < columns.length; c++) (rel[c] <= tol || iterations >= maxIter ? finished : running).push(c);
    if (finished.length === 0) continue;
    // Store the finished columns, keep iterating on the rest.
    const done = tf.tidy(() => tf.gather(w, finished, 1).dataSync());
    for (let f = 0; f < finished.length; f++) {
      const j = columns[finished[f]];
      for (let i = 0; i < n; i++) out[i * B + j] = done[i * finished.length + f];
    }
    if (running.length === 0) break;
    const keep = running;
    const [w2, z2, t2, y2, th2] = tf.tidy(() => [w, z, t, y, threshold].map((m) => tf.gather(m, keep, 1) as tf.Tensor2D));
    tf.dispose([w, z, t, y, threshold]);
    [w, z, t, y, threshold] = [w2, z2, t2, y2, th2];
    columns = Int32Array.from(keep, (c) => columns[c]);
  }
  tf.dispose([w, z, t, y, threshold]);
  return { w: tf.tensor2d(out, [n, B]), iterations };
}

/**
 * The lasso at per-column λ from the warm start w0 [n, B], with the strong rule when
 * screening (λPrev: the λ the warm start solved; λPrev = λ keeps the features the warm
 * start uses or whose gradient already reaches λ). Returns the solution [n, B], the
 * iterations of its solves, and the features it solved on (n without screening).
 */
export function solveAt(design: CenteredDesign, yc: tf.Tensor2D, w0: tf.Tensor2D, lambda: Float32Array, lambdaPrev: Float32Array, maxIter: number, tol: number, screening: boolean): { w: tf.Tensor2D; iterations: number; features: number } {
  if (!screening) return { ...fista(design, yc, w0, lambda, maxIter, tol), features: design.n };
  const n = design.n;
  const B = lambda.length;
  const K = design.rows;
  /** |x_iᵀ r_j| / K for every feature and column, r = yc − Xc w, as [n, B] row-major. */
  const correlation = (xc: tf.Tensor2D, w: tf.Tensor2D): Float32Array =>
    tf.tidy(() => tf.abs(tf.div(tf.matMul(design.xcT, tf.sub(yc, tf.matMul(xc, w))), K)).dataSync() as Float32Array);
  const c0 = correlation(design.xc, w0);
  const start = w0.dataSync() as Float32Array;
  const kept = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < B; j++) {
      if (start[i * B + j] !== 0 || c0[i * B + j] >= 2 * lambda[j]! - lambdaPrev[j]!) {
        kept[i] = 1;
        break;
      }
    }
  }
  let iterations = 0;
  let solved = 0;
  for (;;) {
    const U = Array.from({ length: n }, (_, i) => i).filter((i) => kept[i]);
    solved = U.length;
    if (U.length === 0) return { w: tf.zeros([n, B]) as tf.Tensor2D, iterations, features: 0 };
    const xc = tf.gather(design.xc, U, 1) as tf.Tensor2D;
    const xcT = tf.gather(design.xcT, U, 0) as tf.Tensor2D;
    // The full design's bound holds for any subset of its columns (‖X_U‖ ≤ ‖X‖).
    const sub: Design = { rows: K, n: U.length, xc, xcT, lipschitz: design.lipschitz };
    const startU = tf.gather(w0, U, 0) as tf.Tensor2D;
    const r = fista(sub, yc, startU, lambda, maxIter, tol);
    iterations += r.iterations;
    const c = correlation(xc, r.w);
    tf.dispose([xc, xcT, startU]);
    // KKT for every left-out feature: its gradient must not exceed λ_j (a little slack for FISTA's tolerance).
    let violations = 0;
    for (let i = 0; i < n; i++) {
      if (kept[i]) continue;
      for (let j = 0; j < B; j++) {
        if (c[i * B + j]! > lambda[j]! * (1 + 1e-3)) {
          kept[i] = 1;
          violations++;
          break;
        }
      }
    }
    if (violations === 0) {
      const values = r.w.dataSync() as Float32Array;
      r.w.dispose();
      const full = new Float32Array(n * B);
      U.forEach((i, u) => full.set(values.subarray(u * B, (u + 1) * B), i * B));
      return { w: tf.tensor2d(full, [n, B]), iterations, features: solved };
    }
    r.w.dispose();
  }
}

export interface LassoBlockResult {
  /** [B, n]: row j is target j's weights w_j. */
  weights: Float32Array;
  /** [B]: b_j. */
  intercept: Float32Array;
  /** [B]: chosen λ_j. */
  lambda: Float32Array;
  /** [B]: λ_max,j on the training rows. */
  lambdaMax: Float32Array;
  /** [B]: held-out MSE at the chosen λ, and at λ_max (predicting the mean). */
  heldOutMse: Float32Array;
  heldOutMseNull: Float32Array;
  /** [B]: nonzero weights in the final solution. */
  nonzeros: Int32Array;
  /** λ values visited before the early stop. */
  pathVisited: number;
  iterations: number;
  /** Mean over the solves of the fraction of features solved on (1 without screening): the work per iteration. */
  featuresSolved: number;
}

/**
 * The regularization path and choice of λ for B responses y [rows, B] (row-major) on the
 * design masks [rows, n], with the rows in `heldOut` kept out of the fit to choose λ.
 */
export function lassoBlock(masks: Uint8Array, rows: number, n: number, y: Float32Array, B: number, heldOut: ArrayLike<number>, options: Partial<LassoOptions> = {}): LassoBlockResult {
  const o = { ...defaultLassoOptions, ...options };
  if (masks.length !== rows * n) throw new Error(`lasso: masks have ${masks.length} values, not ${rows}×${n}`);
  if (y.length !== rows * B) throw new Error(`lasso: responses have ${y.length} values, not ${rows}×${B}`);
  const isHeld = new Uint8Array(rows);
  for (let l = 0; l < heldOut.length; l++) isHeld[heldOut[l]] = 1;
  const trainRows = Int32Array.from({ length: rows }, (_, r) => r).filter((r) => !isHeld[r]);
  const heldRows = Int32Array.from({ length: rows }, (_, r) => r).filter((r) => isHeld[r]);
  if (heldRows.length === 0) throw new Error('lasso: no held-out rows to choose λ on');
  if (trainRows.length < 2) throw new Error('lasso: fewer than 2 training rows');

  const design = new CenteredDesign(masks, n, trainRows);
  const { yc, ymean } = design.centerResponses(y, B, trainRows);
  // Held-out design centered with the training means, and raw held-out responses.
  const xHeld = tf.tidy(() => {
    const raw = new Float32Array(heldRows.length * n);
    for (let r = 0; r < heldRows.length; r++) for (let i = 0; i < n; i++) raw[r * n + i] = masks[heldRows[r] * n + i] - design.mean[i];
    return tf.tensor2d(raw, [heldRows.length, n]);
  });
  const yHeldMinusMean = tf.tidy(() => {
    const raw = new Float32Array(heldRows.length * B);
    for (let r = 0; r < heldRows.length; r++) for (let j = 0; j < B; j++) raw[r * B + j] = y[heldRows[r] * B + j] - ymean[j];
    return tf.tensor2d(raw, [heldRows.length, B]);
  });
  /** Held-out MSE of the columns `cols` of the response block, for their weights w [n, |cols|]. */
  const heldMse = (w: tf.Tensor2D, cols: number[]): Float32Array =>
    tf.tidy(() => tf.mean(tf.square(tf.sub(tf.matMul(xHeld, w), tf.gather(yHeldMinusMean, cols, 1))), 0).dataSync() as Float32Array);
  const everyColumn = Array.from({ length: B }, (_, j) => j);

  const lambdaMax = tf.tidy(() => tf.max(tf.abs(design.correlation(yc)), 0).dataSync() as Float32Array).slice();
  const T = o.pathLength;
  const lambdaAt = (step: number) => lambdaMax.map((l) => l * o.lambdaMinRatio ** (T > 1 ? step / (T - 1) : 0));

  // t = 0: λ_max, whose solution is exactly 0 (predict the training mean). Solutions
  // live in [n, B] row-major arrays; each step solves only the columns still improving.
  const current = new Float32Array(n * B);
  const bestW = new Float32Array(n * B);
  const heldOutMseNull = tf.tidy(() => heldMse(tf.zeros([n, B]), everyColumn)).slice();
  const bestMse = heldOutMseNull.slice();
  const bestLambda = lambdaMax.slice();
  const sinceBest = new Int32Array(B);
  let iterations = 0;
  let visited = 1;
  const featureShare: number[] = [];
  for (let step = 1; step < T; step++) {
    const alive = everyColumn.filter((j) => sinceBest[j] < o.patience);
    if (alive.length === 0) break;
    const lambda = lambdaAt(step);
    const ycAlive = tf.gather(yc, alive, 1) as tf.Tensor2D;
    const start = tf.tensor2d(takeColumns(current, n, B, alive), [n, alive.length]);
    const previous = lambdaAt(step - 1);
    const solved = solveAt(design, ycAlive, start, Float32Array.from(alive, (j) => lambda[j]), Float32Array.from(alive, (j) => previous[j]), o.maxIter, o.tol, !!o.screening);
    featureShare.push(solved.features / n);
    const mse = heldMse(solved.w, alive);
    const solution = solved.w.dataSync() as Float32Array;
    tf.dispose([ycAlive, start, solved.w]);
    putColumns(current, n, B, alive, solution);
    iterations += solved.iterations;
    visited++;
    let improved = 0;
    alive.forEach((j, c) => {
      if (mse[c] < bestMse[j]) {
        bestMse[j] = mse[c];
        bestLambda[j] = lambda[j];
        sinceBest[j] = 0;
        improved++;
        for (let i = 0; i < n; i++) bestW[i * B + j] = solution[i * alive.length + c];
      } else sinceBest[j]++;
    });
    o.log?.(`lasso: λ ${step}/${T - 1}: ${alive.length} targets, ${solved.iterations} iterations, ${improved} improved`);
    o.progress?.(step / (T - 1) / (o.refit ? 2 : 1));
  }
  design.dispose();
  yc.dispose();
  xHeld.dispose();
  yHeldMinusMean.dispose();
  const best = tf.tensor2d(bestW, [n, B]);

  let finalW = best;
  let intercept: Float64Array;
  if (o.refit) {
    const all = Int32Array.from({ length: rows }, (_, r) => r);
    const full = new CenteredDesign(masks, n, all);
    const centered = full.centerResponses(y, B, all);
    const solved = solveAt(full, centered.yc, best, bestLambda, bestLambda, o.maxIter, o.tol, !!o.screening);
    iterations += solved.iterations;
    featureShare.push(solved.features / n);
    best.dispose();
    finalW = solved.w;
    intercept = interceptOf(finalW, full.mean, centered.ymean);
    centered.yc.dispose();
    full.dispose();
  } else {
    intercept = interceptOf(finalW, design.mean, ymean);
  }
  const weights = tf.tidy(() => tf.transpose(finalW).dataSync() as Float32Array).slice();
  finalW.dispose();
  const nonzeros = new Int32Array(B);
  for (let j = 0; j < B; j++) for (let i = 0; i < n; i++) if (weights[j * n + i] !== 0) nonzeros[j]++;
  o.progress?.(1);
  return {
    weights,
    intercept: Float32Array.from(intercept),
    lambda: bestLambda,
    lambdaMax,
    heldOutMse: bestMse,
    heldOutMseNull,
    nonzeros,
    pathVisited: visited,
    iterations,
    featuresSolved: featureShare.length ? featureShare.reduce((a, b) => a + b, 0) / featureShare.length : 1,
  };
}

/** b_j = ȳ_j − x̄ᵀ w_j. */
function interceptOf(w: tf.Tensor2D, mean: Float32Array, ymean: Float64Array): Float64Array {
  const xw = tf.tidy(() => tf.matMul(tf.tensor2d(mean, [1, mean.length]), w).dataSync());
  return ymean.map((m, j) => m - xw[j]);
}

/** Columns `cols` of an [n, B] row-major array, as [n, |cols|]. */
function takeColumns(a: Float32Array, n: number, B: number, cols: number[]): Float32Array {
  const out = new Float32Array(n * cols.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < cols.length; c++) out[i * cols.length + c] = a[i * B + cols[c]];
  return out;
}

/** Writes values [n, |cols|] into the columns `cols` of an [n, B] row-major array. */
function putColumns(a: Float32Array, n: number, B: number, cols: number[], values: Float32Array): void {
  for (let i = 0; i < n; i++) for (let c = 0; c < cols.length; c++) a[i * B + cols[c]] = values[i * cols.length + c];
}
