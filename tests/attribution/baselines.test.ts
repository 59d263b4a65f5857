/** graddot and gradcos against their definitions, on hand-made features. */
import test from 'ava';
import { join } from 'node:path';
import { SCORES } from '../../lib/artifacts.ts';
import { gradcos } from '../../stages/gradcos.ts';
import { graddot } from '../../stages/graddot.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { runStage } from '../helpers/run-stage.ts';
import { featuresArtifact, randomFeatures, relErr, type HandFeatures } from './helpers.ts';

function reference(f: HandFeatures, cosine: boolean): Float64Array {
  const { n, m, k } = f;
  const S = f.train.length;
  const out = new Float64Array(m * n);
  const norm = (x: Float64Array, r: number) => Math.sqrt(Array.from(x.subarray(r * k, (r + 1) * k)).reduce((a, v) => a + v * v, 0));
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let a = 0; a < k; a++) v += f.targets[s][j * k + a] * f.train[s][i * k + a];
        if (cosine) v /= norm(f.targets[s], j) * norm(f.train[s], i);
        out[j * n + i] += v / S;
      }
    }
  }
  return out;
}

test('graddot = mean over models of φ(x)ᵀφ_i', async (t) => {
  const f = randomFeatures('graddot', 3, 25, 6, 7);
  const out = await runStage(graddot, { params: { targetBlock: 4 }, inputs: { features: featuresArtifact(f) } });
  const scores = readNpy(join(out.dir, SCORES.scores));
  t.deepEqual(scores.shape, [6, 25]);
  t.true(relErr(scores.data as Float32Array, reference(f, false)) < 1e-5);
  t.is(out.metrics.models, 3);
});

test('gradcos = mean over models of cos(φ(x), φ_i), within [-1, 1]', async (t) => {
  const f = randomFeatures('gradcos', 2, 30, 5, 4);
  const out = await runStage(gradcos, { inputs: { features: featuresArtifact(f) } });
  const scores = readNpy(join(out.dir, SCORES.scores)).data as Float32Array;
  t.true(relErr(scores, reference(f, true)) < 1e-5);
  t.true(scores.every((v) => Math.abs(v) <= 1 + 1e-6));
});
