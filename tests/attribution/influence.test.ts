/**
 * influence against real leave-one-out retraining on a tiny convex problem (binary
 * L2-regularized logistic regression refit with sklearn for every left-out example;
 * tests/fixtures/attribution/make_loo.py), and against its closed form.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, StageHash } from '../../pipeline/registry.ts';
import { MASKS, MODELS, SCORES } from '../../stages/artifacts.ts';
import { influence } from '../../stages/baselines/influence.ts';
import { readNpy, writeNpy } from '../../stages/io/npy.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';
import { featuresArtifact, gram64, pearson, randomFeatures, relErr, solve, transpose, type HandFeatures } from './helpers.ts';

interface Loo {
  n: number;
  m: number;
  k: number;
  damping: number;
  train_g: number[][];
  train_p: number[];
  target_g: number[][];
  loo: number[][];
}

const loo = JSON.parse(readFileSync(new URL('../fixtures/attribution/loo.json', import.meta.url), 'utf8')) as Loo;

function looFeatures(): HandFeatures {
  return {
    train: [Float64Array.from(loo.train_g.flat())],
    targets: [Float64Array.from(loo.target_g.flat())],
    probs: [Float64Array.from(loo.train_p)],
    n: loo.n,
    m: loo.m,
    k: loo.k,
    projector: 'identity',
  };
}

test('influence agrees with leave-one-out retraining (Pearson > 0.95)', async (t) => {
  const out = await runStage(influence, { params: { damping: loo.damping }, inputs: { features: featuresArtifact(looFeatures()) } });
  const scores = readNpy(join(out.dir, SCORES.scores)).data as Float32Array;
  const truth = loo.loo.flat();
  const r = pearson(scores, truth);
  t.log(`Pearson(influence, LOO) over ${loo.m} targets × ${loo.n} train = ${r.toFixed(4)}`);
  t.true(r > 0.95);
  for (let j = 0; j < loo.m; j++) {
    const rj = pearson(scores.subarray(j * loo.n, (j + 1) * loo.n), loo.loo[j]);
    t.true(rj > 0.9, `target ${j}: ${rj}`);
  }
  t.is(out.metrics.damping, loo.damping);
});

/** τ = (1/S) Σ_s (1 − p_s) ⊙ g_s(x)ᵀ (Σ_{i∈mask} p(1−p) g gᵀ + dI)⁻¹ g_{s,i}. */
function closedForm(f: HandFeatures, damping: number, masks?: Uint8Array[]): Float64Array {
  const { n, m, k } = f;
  const S = f.train.length;
  const out = new Float64Array(m * n);
  for (let s = 0; s < S; s++) {
    const w = f.probs[s].map((p, i) => (masks && !masks[s][i] ? 0 : p * (1 - p)));
    const h = gram64(f.train[s], n, k, w);
    for (let a = 0; a < k; a++) h[a * k + a] += damping;
    const y = solve(h, transpose(f.targets[s], m, k), k, m);
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let a = 0; a < k; a++) v += y[a * m + j] * f.train[s][i * k + a];
        out[j * n + i] += ((1 - f.probs[s][i]) * v) / S;
      }
    }
  }
  return out;
}

test('influence uses each model\'s training subset (features → models → masks) in its Hessian', async (t) => {
  const f = { ...randomFeatures('influence-masks', 2, 30, 4, 6), projector: 'identity' as const };
  const masks = [Uint8Array.from({ length: 30 }, (_, i) => (i % 2 ? 1 : 0)), Uint8Array.from({ length: 30 }, (_, i) => (i < 20 ? 1 : 0))];
  const masksDir = tempDir();
  writeNpy(join(masksDir, MASKS.masks), Uint8Array.from([...masks[1], ...masks[0]]), [2, 30]);
  const modelsDir = tempDir();
  writeNpy(join(modelsDir, MODELS.maskOf), Int32Array.from([1, 0]));
  const art = (kind: string, dir: string, inputs: Record<string, Artifact> = {}): Artifact => ({ kind, stageKind: kind, hash: `h-${kind}` as StageHash, dir, params: {}, metrics: {}, units: 0, inputs });
  const features = featuresArtifact(f);
  features.inputs = { models: art('models', modelsDir, { masks: art('masks', masksDir) }) };
  const out = await runStage(influence, { params: { damping: 0.3 }, inputs: { features } });
  const scores = readNpy(join(out.dir, SCORES.scores)).data as Float32Array;
  t.true(relErr(scores, closedForm(f, 0.3, masks)) < 2e-3);
  t.true(relErr(scores, closedForm(f, 0.3)) > 1e-2, 'differs from the all-examples Hessian');
});

test('influence refuses projected features and models above maxParams, with a clear message', async (t) => {
  const f = randomFeatures('influence-refuse', 1, 10, 2, 5);
  await t.throwsAsync(runStage(influence, { inputs: { features: featuresArtifact(f) } }), { message: /gaussian projector.*projector: {kind: identity}/ });
  await t.throwsAsync(runStage(influence, { params: { maxParams: 4 }, inputs: { features: featuresArtifact({ ...f, projector: 'identity' }) } }), {
    message: /5 parameters.*maxParams = 4/,
  });
});

