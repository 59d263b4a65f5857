import test from 'ava';
import { Rng, deriveSeed } from '../../lib/random/rng.ts';

/** Standard normal CDF via erfc (W. J. Cody's rational approximations are overkill here: A&S 7.1.26, |err| < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

test('a stream depends only on its labels', (t) => {
  const a = Rng.from(7, 'stage', 3).fillNormal(new Float64Array(100));
  const b = Rng.from(7, 'stage', 3).fillNormal(new Float64Array(100));
  t.deepEqual(a, b);
  const c = Rng.from(7, 'stage', 4).fillNormal(new Float64Array(100));
  t.notDeepEqual(a, c);
  // split(...) is the same stream as from(...parent labels, ...child labels).
  t.deepEqual(Rng.from(7).split('stage', 3).fillNormal(new Float64Array(100)), a);
  t.is(deriveSeed(1, 'x'), deriveSeed(1, 'x'));
  t.not(deriveSeed(1, 'x'), deriveSeed(2, 'x'));
  t.true(Number.isInteger(deriveSeed(5)) && deriveSeed(5) >= 0 && deriveSeed(5) < 2 ** 32);
});

test('pinned values: the bits never change silently (stored projections and masks depend on them)', (t) => {
  const r = Rng.from(0, 'pinned');
  const u = [r.uniform(), r.uniform()];
  const z = [r.normal(), r.normal(), r.normal()];
  const s = Array.from({ length: 8 }, () => r.rademacher());
  const i = r.int(1000);
  t.snapshot({ u, z, s, i });
});

test('normal draws: moments, a KS test and the ziggurat tail', (t) => {
  const n = 400_000;
  const x = Rng.from(1, 'normal').fillNormal(new Float64Array(n));
  let m = 0;
  let v = 0;
  let k4 = 0;
  let tail = 0;
  for (const xi of x) {
    m += xi;
    v += xi * xi;
    k4 += xi ** 4;
    if (Math.abs(xi) > 3.442619855899) tail++;
  }
  m /= n;
  v /= n;
  k4 /= n;
  t.true(Math.abs(m) < 5 / Math.sqrt(n), `mean ${m}`);
  t.true(Math.abs(v - 1) < 5 * Math.sqrt(2 / n), `variance ${v}`);
  t.true(Math.abs(k4 - 3) < 5 * Math.sqrt(96 / n), `fourth moment ${k4}`);
  // P(|z| > R) = 2(1 − Φ(R)) ≈ 5.76e-4: the tail sampler runs and has the right mass.
  const pTail = 2 * (1 - normalCdf(3.442619855899));
  t.true(Math.abs(tail / n - pTail) < 5 * Math.sqrt(pTail / n), `tail ${tail / n} vs ${pTail}`);
  // Kolmogorov-Smirnov on a subsample: D < 1.63 / sqrt(m) is the 1% critical value.
  const sub = Array.from(x.subarray(0, 50_000)).sort((a, b) => a - b);
  let d = 0;
  sub.forEach((xi, i) => {
    const f = normalCdf(xi);
    d = Math.max(d, Math.abs(f - i / sub.length), Math.abs(f - (i + 1) / sub.length));
  });
  t.true(d < 1.63 / Math.sqrt(sub.length), `KS D = ${d}`);
});

test('rademacher, uniform, int, permutation', (t) => {
  const r = Rng.from(2);
  const n = 200_000;
  const s = r.fillRademacher(new Float32Array(n), 0.5);
  let sum = 0;
  let lag = 0;
  for (let i = 0; i < n; i++) {
    t.true(s[i] === 0.5 || s[i] === -0.5);
    sum += s[i];
    if (i > 0) lag += s[i] * s[i - 1];
  }
  t.true(Math.abs(sum / (0.5 * n)) < 5 / Math.sqrt(n), 'balanced signs');
  t.true(Math.abs(lag / (0.25 * n)) < 5 / Math.sqrt(n), 'no lag-1 correlation');

  const u = r.fillUniform(new Float64Array(n), -2, 3);
  t.true(u.every((x) => x >= -2 && x < 3));
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[r.int(7)]++;
  t.true(counts.every((c) => Math.abs(c - 10_000) < 500), `counts ${counts}`);

  const p = r.permutation(1000);
  t.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  t.notDeepEqual(Array.from(p), Array.from({ length: 1000 }, (_, i) => i));
});

test('streams with different labels are uncorrelated', (t) => {
  const n = 100_000;
  const a = Rng.from(3, 'hash', 0).fillNormal(new Float64Array(n));
  const b = Rng.from(3, 'hash', 1).fillNormal(new Float64Array(n));
  let c = 0;
  for (let i = 0; i < n; i++) c += a[i] * b[i];
  t.true(Math.abs(c / n) < 5 / Math.sqrt(n), `correlation ${c / n}`);
});
