/**
 * trak against its closed form, computed here in float64 with an independent solver:
 *     τ(x_j)_i = [1/S Σ_s φ_s(x_j)ᵀ (Φ_sᵀΦ_s + λ_s I)⁻¹ φ_{s,i}] · [1/S Σ_s (1 − p_{s,i})]
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCORES } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { trak } from '../../stages/trak.ts';
import type { TargetTop } from '../../lib/attribution/scores.ts';
import { runStage } from '../helpers/run-stage.ts';
import { featuresArtifact, gram64, randomFeatures, relErr, solve, transpose, type HandFeatures } from './helpers.ts';

function closedForm(f: HandFeatures, lambda: number | { relative: number }, threshold?: number): Float64Array {
  const { n, m, k } = f;
  const S = f.train.length;
  const tau = new Float64Array(m * n);
  for (let s = 0; s < S; s++) {
    const g = gram64(f.train[s], n, k);
    let trace = 0;
    for (let a = 0; a < k; a++) trace += g[a * k + a];
    const lam = typeof lambda === 'number' ? lambda : lambda.relative * (trace / k);
    for (let a = 0; a < k; a++) g[a * k + a] += lam;
    const y = solve(g, transpose(f.targets[s], m, k), k, m); // [k, m]
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let a = 0; a < k; a++) v += y[a * m + j] * f.train[s][i * k + a];
        tau[j * n + i] += v / S;
      }
    }
  }
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < n; i++) {
      let q = 0;
      for (let s = 0; s < S; s++) q += (1 - f.probs[s][i]) / S;
      tau[j * n + i] *= q;
      if (threshold !== undefined) {
        const v = tau[j * n + i];
        tau[j * n + i] = Math.sign(v) * Math.max(Math.abs(v) - threshold, 0);
      }
    }
  }
  return tau;
}

// side: where the inverse is applied (m < n: the targets, U = Φ(x)(ΦᵀΦ + λI)⁻¹; else Φ itself)
const cases: { title: string; S: number; n: number; m: number; k: number; side: 'train' | 'targets'; params: Record<string, unknown> }[] = [
  { title: 'primal (k < n), relative λ, target blocks', S: 3, n: 40, m: 7, k: 8, side: 'targets', params: { lambda: { relative: 0.05 }, targetBlock: 3 } },
  { title: 'primal, absolute λ = 0 (the paper\'s unregularized estimator)', S: 2, n: 50, m: 5, k: 6, side: 'targets', params: { lambda: 0 } },
  { title: 'primal with more targets than train examples (inverse on the train side)', S: 2, n: 12, m: 30, k: 5, side: 'train', params: { lambda: { relative: 0.05 } } },
  { title: 'dual (k > n) gives the same scores', S: 2, n: 20, m: 6, k: 45, side: 'train', params: { lambda: { relative: 0.1 } } },
];

for (const c of cases) {
  test(`trak equals its closed form: ${c.title}`, async (t) => {
    const f = randomFeatures(c.title, c.S, c.n, c.m, c.k);
    const out = await runStage(trak, { params: c.params, inputs: { features: featuresArtifact(f) } });
    const scores = readNpy(join(out.dir, SCORES.scores));
    t.deepEqual(scores.shape, [c.m, c.n]);
    t.is(scores.dtype, 'float32');
    const ref = closedForm(f, c.params.lambda as number | { relative: number });
    t.true(relErr(scores.data as Float32Array, ref) < 2e-3, `relative error ${relErr(scores.data as Float32Array, ref)}`);
    t.is(out.metrics.targets, c.m);
    t.is(out.metrics.train, c.n);
    t.is(out.metrics.models, c.S);
    for (let s = 0; s < c.S; s++) {
      const solve = JSON.parse(readFileSync(join(out.dir, 'units', String(s), 'solve.json'), 'utf8')) as { side: string };
      t.is(solve.side, c.side);
    }
  });
}

test('trak soft-thresholding and top-k proponents/opponents', async (t) => {
  const f = randomFeatures('threshold', 2, 30, 4, 5);
  const out = await runStage(trak, { params: { lambda: 1, softThreshold: 0.05, topK: 3 }, inputs: { features: featuresArtifact({ ...f, targetIndex: Int32Array.from([9, 3, 7, 1]) }) } });
  const scores = readNpy(join(out.dir, SCORES.scores)).data as Float32Array;
  const ref = closedForm(f, 1, 0.05);
  t.true(relErr(scores, ref) < 2e-3);
  t.true(scores.some((v) => v === 0), 'thresholding zeroes small scores');
  t.true(scores.some((v) => v !== 0), 'and keeps large ones');
  const top = JSON.parse(readFileSync(join(out.dir, SCORES.top), 'utf8')) as TargetTop[];
  t.deepEqual(top.map((e) => e.target), [9, 3, 7, 1]);
  t.deepEqual(Array.from(readNpy(join(out.dir, SCORES.targetIndex)).data), [9, 3, 7, 1]);
  for (let j = 0; j < 4; j++) {
    const row = Array.from(scores.subarray(j * 30, (j + 1) * 30));
    const order = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    t.deepEqual(top[j].proponents.map((p) => p.index), order.slice(0, 3).map((o) => o[1]));
    const ascending = row.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    t.deepEqual(top[j].opponents.map((p) => p.index), ascending.slice(0, 3).map((o) => o[1]));
    t.is(top[j].proponents[0].score, Math.max(...row));
  }
  const meta = JSON.parse(readFileSync(join(out.dir, SCORES.meta), 'utf8'));
  t.is(meta.method, 'trak');
  t.is(meta.nTargets, 4);
  t.is(meta.topK, 3);
});
