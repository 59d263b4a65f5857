/**
 * The LDS intervals of lib/evaluation/linear-datamodeling.ts on cases whose answer is
 * known by hand: the targets-only bootstrap is the old percentile bootstrap of the
 * per-target values; identical targets have no target noise (targets-only width 0) but
 * do have subset noise (two-way width > 0); a method against itself differs by exactly
 * 0; against its own negation by exactly twice its LDS in every resample. The two-way
 * interval is re-centred on the estimate (its median moves to the estimate).
 */
import test from 'ava';
import { ldsInterval, ldsPerTarget, meanDefined, pairedLdsDifference, quantile, summarize } from '../../lib/evaluation/linear-datamodeling.ts';
import { spearman } from '../../lib/linalg/index.ts';
import { Rng } from '../../lib/random/rng.ts';

const T = 6;
const K = 15;

/** Predictions = truth + noise, [T, K]; `same` makes every target row the same. */
function problem(noise: number, same = false) {
  const truth = new Float64Array(T * K);
  const predictions = new Float64Array(T * K);
  for (let j = 0; j < T; j++) {
    for (let k = 0; k < K; k++) {
      const src = same ? k : j * K + k;
      truth[j * K + k] = Math.sin(1.7 * src + 0.3);
      predictions[j * K + k] = truth[j * K + k] + noise * Math.cos(5.1 * src * src + 1);
    }
  }
  return { truth, predictions };
}

test('meanDefined drops NaN and counts the rest', (t) => {
  t.deepEqual(meanDefined([1, Number.NaN, 3]), { mean: 2, std: Math.SQRT2, defined: 2 });
  const none = meanDefined([Number.NaN]);
  t.true(Number.isNaN(none.mean));
  t.is(none.defined, 0);
});

test('targets-only resampling is the percentile bootstrap of the per-target values', (t) => {
  const { truth, predictions } = problem(0.8);
  const rho = ldsPerTarget(predictions, truth, T, K).spearman;
  const want = summarize(rho, 300, 0.9, Rng.from('b', 1));
  const got = ldsInterval(predictions, truth, T, K, { resamples: 300, ci: 0.9, resample: 'targets', rng: Rng.from('b', 1) });
  t.deepEqual({ mean: got.mean, std: got.std, low: got.low, high: got.high }, want);
  t.is(got.defined, T);
});

test('identical targets: targets-only interval has width 0, two-way does not', (t) => {
  const { truth, predictions } = problem(0.8, true);
  const one = ldsInterval(predictions, truth, T, K, { resamples: 200, ci: 0.95, resample: 'targets', rng: Rng.from('c') });
  t.true(Math.abs(one.low - one.mean) < 1e-12 && Math.abs(one.high - one.mean) < 1e-12, `${one.low}..${one.high}`);
  const two = ldsInterval(predictions, truth, T, K, { resamples: 200, ci: 0.95, rng: Rng.from('c') });
  t.true(two.high - two.low > 0.05, `${two.low}..${two.high}`);
  t.true(two.low <= one.mean && one.mean <= two.high);
});

test('perfect predictions: LDS 1 in every resample (ties from redrawn subsets rank alike)', (t) => {
  const { truth } = problem(0);
  const r = ldsInterval(Float64Array.from(truth, (v) => 3 * v + 1), truth, T, K, { resamples: 100, ci: 0.95, rng: Rng.from('d') });
  t.deepEqual([r.mean, r.low, r.high].map((v) => Math.round(v * 1e12) / 1e12), [1, 1, 1]);
});

test('paired differences: A − A = 0 exactly; A − (−A) = 2·LDS_A in every resample', (t) => {
  const { truth, predictions } = problem(0.8);
  const o = (seed: number) => ({ resamples: 250, ci: 0.9, rng: Rng.from('e', seed) });
  t.deepEqual(pairedLdsDifference(predictions, predictions, truth, T, K, o(1)), { difference: 0, low: 0, high: 0, targets: T });
  const negated = Float64Array.from(predictions, (v) => -v);
  const d = pairedLdsDifference(predictions, negated, truth, T, K, o(2));
  const a = ldsInterval(predictions, truth, T, K, o(2)); // the same draws: targets, then subsets
  const close = (x: number, y: number) => Math.abs(x - y) < 1e-12;
  t.true(close(d.difference, 2 * a.mean), `${d.difference} vs 2 × ${a.mean}`);
  t.true(close(d.low, 2 * a.low) && close(d.high, 2 * a.high), `[${d.low}, ${d.high}] vs 2 × [${a.low}, ${a.high}]`);
});

test('paired differences use only targets defined for both methods', (t) => {
  const { truth, predictions } = problem(0.8);
  const b = Float64Array.from(predictions);
  b.fill(0, 0, K); // target 0 undefined for B
  const d = pairedLdsDifference(predictions, b, truth, T, K, { resamples: 0, ci: 0.9, rng: Rng.from('f') });
  t.is(d.targets, T - 1);
  t.true(Math.abs(d.difference) < 1e-12, 'the other targets are identical');
  t.throws(() => pairedLdsDifference(predictions, b.subarray(1), truth, T, K, { resamples: 0, ci: 0.9, rng: Rng.from('f') }), { message: /predictions of 90 and 89 values/ });
});

test('two-way by brute force: redraw targets then subsets, Spearman per drawn target, percentiles moved by estimate − median', (t) => {
  const { truth, predictions } = problem(0.8);
  const resamples = 300;
  const rng = Rng.from('g');
  const stats: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const drawnTargets = Array.from({ length: T }, () => rng.int(T));
    const drawnSubsets = Array.from({ length: K }, () => rng.int(K));
    let sum = 0;
    for (const j of drawnTargets) sum += spearman(drawnSubsets.map((k) => predictions[j * K + k]!), drawnSubsets.map((k) => truth[j * K + k]!));
    stats.push(sum / T);
  }
  stats.sort((x, y) => x - y);
  const got = ldsInterval(predictions, truth, T, K, { resamples, ci: 0.8, rng: Rng.from('g') });
  const shift = got.mean - quantile(stats, 0.5);
  t.true(Math.abs(got.low - (quantile(stats, 0.1) + shift)) < 1e-12, `${got.low}`);
  t.true(Math.abs(got.high - (quantile(stats, 0.9) + shift)) < 1e-12, `${got.high}`);
  t.true(shift > 0, 'redrawn subsets tie and pull Spearman down; the interval is moved back up');
});
