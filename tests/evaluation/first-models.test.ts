/**
 * `models: N` on trak and datamodels: the first N models of a larger upstream stage
 * give exactly what the stage gives on an upstream holding only those N models, so one
 * ensemble serves every point of an LDS-against-models curve.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { SCORES } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { Rng } from '../../lib/random/rng.ts';
import { datamodels } from '../../stages/datamodels.ts';
import { trak } from '../../stages/trak.ts';
import { featuresArtifact, randomFeatures } from '../attribution/helpers.ts';
import { runStage } from '../helpers/run-stage.ts';
import { dataset, masksArtifact, modelsArtifact, randomMasks } from './fakes.ts';

const scoresOf = (dir: string) => readFileSync(join(dir, SCORES.scores));

test('trak with models: S scores the first S models of the features, and refuses more than there are', async (t) => {
  const f = randomFeatures('first-models', 3, 30, 4, 6);
  const first2 = { ...f, train: f.train.slice(0, 2), targets: f.targets.slice(0, 2), probs: f.probs.slice(0, 2) };
  const params = { lambda: { relative: 0.1 } };
  const sliced = await runStage(trak, { params: { ...params, models: 2 }, inputs: { features: featuresArtifact(f) } });
  const alone = await runStage(trak, { params, inputs: { features: featuresArtifact(first2) } });
  t.is(sliced.units, 2);
  t.is(sliced.metrics.models, 2);
  t.deepEqual(scoresOf(sliced.dir), scoresOf(alone.dir));
  const all = await runStage(trak, { params, inputs: { features: featuresArtifact(f) } });
  t.notDeepEqual(scoresOf(all.dir), scoresOf(alone.dir));
  await t.throwsAsync(runStage(trak, { params: { models: 4 }, inputs: { features: featuresArtifact(f) } }), { message: 'trak: models: 4, but the features hold 3 model(s)' });
  t.false('models' in trak.params.parse({}), 'absent when unset, so existing configs keep their hashes');
});

test('datamodels with models: N regresses on the first N models (and their masks) only', async (t) => {
  const nTrain = 20;
  const nTest = 3;
  const seeds = 2;
  const count = 40;
  const rng = Rng.from('first-models-datamodels');
  const data = dataset();
  const masks = randomMasks(count, nTrain, 0.5, rng);
  const margins = rng.fillNormal(new Float32Array(count * seeds * nTest));
  for (let m = 0; m < count * seeds; m++) for (let i = 0; i < nTrain; i++) if (masks[Math.floor(m / seeds) * nTrain + i]) margins[m * nTest + (i % nTest)] += 1;
  const maskOf = Int32Array.from({ length: count * seeds }, (_, m) => Math.floor(m / seeds));
  const whole = modelsArtifact(data, masksArtifact(data, masks, count, nTrain), margins, maskOf, nTest, seeds);
  const N = 50; // 25 masks × 2 seeds
  const firstMasks = masks.slice(0, 25 * nTrain);
  const first = modelsArtifact(data, masksArtifact(data, firstMasks, 25, nTrain), margins.slice(0, N * nTest), maskOf.slice(0, N), nTest, seeds);
  // Same hash for both inputs, so both runs hold out the same masks (drawn from the stage hash).
  (first as { hash: string }).hash = whole.hash;
  const params = { targets: { split: 'test' }, blockSize: 2, path: 8 };
  const sliced = await runStage(datamodels, { params: { ...params, models: N }, inputs: { models: whole } });
  const alone = await runStage(datamodels, { params: { ...params, models: N }, inputs: { models: first as Artifact } });
  t.is(sliced.metrics.masks, 25);
  t.is(sliced.metrics.models, N);
  t.deepEqual(scoresOf(sliced.dir), scoresOf(alone.dir));
  const meta = JSON.parse(readFileSync(join(sliced.dir, SCORES.meta), 'utf8'));
  t.is(meta.masks, 25);
  t.deepEqual(readNpy(join(sliced.dir, SCORES.scores)).shape, [nTest, nTrain]);
  await t.throwsAsync(runStage(datamodels, { params: { ...params, models: 81 }, inputs: { models: whole } }), { message: /datamodels: models: 81, but the models input \(train [0-9a-z-]+\) holds 80/ });
  t.false('models' in datamodels.params.parse({ targets: { split: 'test' } }));
});
