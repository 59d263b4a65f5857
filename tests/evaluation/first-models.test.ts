/**
 * `models: N` on trak, graddot, gradcos, influence and datamodels (tracin: in
 * tests/attribution/tracin.test.ts): the first N models of a larger upstream stage
 * give exactly what the stage gives on an upstream holding only those N models, so one
 * ensemble serves every point of an LDS-against-models curve. Adding the param kept
 * every existing stage hash (pinned below).
 */
import test from 'ava';
import type { z } from 'zod';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../pipeline/config.ts';
import { planExperiment } from '../../pipeline/plan.ts';
import type { Artifact, StageKind } from '../../pipeline/registry.ts';
import { SCORES } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { Rng } from '../../lib/random/rng.ts';
import { datamodels } from '../../stages/datamodels.ts';
import { gradcos } from '../../stages/gradcos.ts';
import { graddot, gradientSimilarityParams } from '../../stages/graddot.ts';
import { influence, influenceParams } from '../../stages/influence.ts';
import { tracinParams } from '../../stages/tracin.ts';
import { trak } from '../../stages/trak.ts';
import { featuresArtifact, randomFeatures } from '../attribution/helpers.ts';
import { builtins } from '../helpers/builtins.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';
import { writeConfig } from '../engine/helpers.ts';
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

const ensembling = [
  { kind: graddot, schema: gradientSimilarityParams },
  { kind: gradcos, schema: gradientSimilarityParams },
  { kind: influence, schema: influenceParams },
] as { kind: StageKind<Record<string, unknown>>; schema: z.ZodType }[];

for (const { kind, schema } of ensembling) {
  test(`${kind.name} with models: 1 scores the first model of the features alone, and refuses more than there are`, async (t) => {
    const f = { ...randomFeatures(`first-models-${kind.name}`, 2, 20, 4, 5), projector: 'identity' as const };
    const first = { ...f, train: f.train.slice(0, 1), targets: f.targets.slice(0, 1), probs: f.probs.slice(0, 1) };
    const sliced = await runStage(kind, { params: { models: 1 }, inputs: { features: featuresArtifact(f) } });
    const alone = await runStage(kind, { inputs: { features: featuresArtifact(first) } });
    t.is(sliced.metrics.models, 1);
    t.is(JSON.parse(readFileSync(join(sliced.dir, SCORES.meta), 'utf8')).models, 1);
    t.deepEqual(scoresOf(sliced.dir), scoresOf(alone.dir));
    const all = await runStage(kind, { inputs: { features: featuresArtifact(f) } });
    t.is(all.metrics.models, 2);
    t.notDeepEqual(scoresOf(all.dir), scoresOf(alone.dir));
    await t.throwsAsync(runStage(kind, { params: { models: 5 }, inputs: { features: featuresArtifact(f) } }), {
      message: `${kind.name}: models: 5, but the features hold 2 model(s)`,
    });
    t.false('models' in (schema.parse({}) as object), 'absent when unset, so existing configs keep their hashes');
  });
}

test('adding models: N kept the stage hashes of configs that do not set it (pinned before the change)', async (t) => {
  const config = `
name: pinned
seed: 0
stages:
  data:      {kind: dataset, params: {source: iris, train: 40, test: 12}}
  masks:     {kind: subsets, inputs: {data: data}, params: {count: 2}}
  models:    {kind: train, inputs: {data: data, masks: masks}, params: {model: {kind: logreg}, fit: {epochs: 2, batchSize: 10, optimizer: {kind: sgd, lr: 0.1}}, checkpoints: [1]}}
  features:  {kind: linearize, inputs: {models: models}, params: {projector: {kind: identity}}}
  trak:      {kind: trak, inputs: {features: features}}
  graddot:   {kind: graddot, inputs: {features: features}}
  gradcos:   {kind: gradcos, inputs: {features: features}}
  influence: {kind: influence, inputs: {features: features}}
  tracin:    {kind: tracin, inputs: {models: models}, params: {projector: {kind: identity}}}
`;
  const loaded = await loadConfig(writeConfig(tempDir('attrib-pinned-'), config), { registry: builtins() });
  if (!loaded.ok) return t.fail(JSON.stringify(loaded.errors));
  const hashes = Object.fromEntries(planExperiment(loaded.value.experiments[0]!).instances.map((i) => [i.name, i.hash as string]));
  t.like(hashes, {
    trak: 'e9e53cf3ff86a6da5255e87d44fe3db95e9901327161b9371fce4ca576110e0b', // trak's default λ 0.2 (bench/select/), not models: N
    graddot: '755b8482b06d64183b7c8b293e703f5ad7d160eed02c654d521e1ac1e576d6ac',
    gradcos: 'f557b63fbfeefb97d2dba88ace825ccdd91336d230ab87637549069fb9658d05',
    influence: '3da074d06982174c68a0ddc9ea537f0fd9d520a899e49eed57fd634c7d9887e6',
    tracin: '8715abab87e5edd55daa77b41143fbaee39d20485478050abf45ddf2605f6ce3',
  });
  t.false('models' in tracinParams.parse({ projector: { kind: 'identity' } }));
});
