/**
 * Rank correlation for LDS until stages/linalg's spearman/pearson land (then this file
 * goes and the callers import from linalg).
 *
 * rank_avg(x)_i = 1 + #{l: x_l < x_i} + (#{l: x_l = x_i} − 1)/2   (ties get the mean rank)
 * spearman(x, y) = pearson(rank_avg(x), rank_avg(y))             (what scipy.stats.spearmanr computes)
 */
type Numbers = ArrayLike<number>;

export function rankAverage(x: Numbers): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && x[order[end]] === x[order[start]]) end++;
    const rank = (start + end + 1) / 2; // mean of 1-based ranks start+1..end
    for (let l = start; l < end; l++) ranks[order[l]] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson correlation; NaN when either vector is constant (as numpy and scipy give). */
export function pearson(x: Numbers, y: Numbers): number {
  const n = x.length;
  if (y.length !== n) throw new Error(`pearson: lengths ${n} and ${y.length} differ`);
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
  if (sxx === 0 || syy === 0) return Number.NaN;
  return sxy / Math.sqrt(sxx * syy);
}

export function spearman(x: Numbers, y: Numbers): number {
  return pearson(rankAverage(x), rankAverage(y));
}
