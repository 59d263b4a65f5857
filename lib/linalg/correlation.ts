/**
 * Correlations for LDS and diagnostics (what scipy.stats computes):
 *
 *     pearson(x, y)  = Σ (x_i − x̄)(y_i − ȳ) / √(Σ (x_i − x̄)² · Σ (y_i − ȳ)²)
 *     rank_avg(x)_i  = 1 + #{l: x_l < x_i} + (#{l: x_l = x_i} − 1) / 2    (ties share their mean rank)
 *     spearman(x, y) = pearson(rank_avg(x), rank_avg(y))                  (scipy.stats.spearmanr)
 *
 * Sums run in float64 on centered values (two passes), so float32 inputs with a large
 * common offset do not lose their digits. A constant vector, or any NaN, gives NaN, as
 * numpy and scipy do.
 */
type Numbers = ArrayLike<number>;

/** 1-based ranks, ties get the average of the ranks they span. NaN everywhere if any x is NaN. */
export function rankAverage(x: Numbers): Float64Array {
  const n = x.length;
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i])) return ranks.fill(Number.NaN);
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => x[a] - x[b]);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && x[order[end]] === x[order[start]]) end++;
    const rank = (start + end + 1) / 2; // mean of the 1-based ranks start+1 … end
    for (let l = start; l < end; l++) ranks[order[l]] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson correlation coefficient; NaN when either vector is constant or has a NaN. */
export function pearson(x: Numbers, y: Numbers): number {
  const n = x.length;
  if (y.length !== n) throw new Error(`pearson: lengths ${n} and ${y.length} differ`);
  if (n < 2) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return Number.NaN;
  // Rounding can put |r| a hair above 1.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(x: Numbers, y: Numbers): number {
  if (y.length !== x.length) throw new Error(`spearman: lengths ${x.length} and ${y.length} differ`);
  return pearson(rankAverage(x), rankAverage(y));
}
