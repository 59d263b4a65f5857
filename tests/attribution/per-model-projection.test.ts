/**
 * Each model of an ensemble gets its own random projection (issue 14, section 1): the
 * old behaviour drew one P for every model of a linearize stage, so the sketch error
 * was the same in every model and never averaged out.
 *
 * 1. Two identical networks in one linearize stage: per-model P gives them different
 *    features of the same example; `projector.shared: true` gives equal ones.
 * 2. On a small fixed task (synthetic teacher data, logistic regression, 10 models,
 *    gaussian k = 4 of 27 parameters), the per-model ensemble scores a higher LDS than
 *    the shared one for every one of 4 projector seeds.
 */
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, StageHash } from '../../pipeline/registry.ts';
import { FEATURES, MODELS } from '../../lib/artifacts.ts';
import { initBackend } from '../../lib/backend.ts';
import type { FeaturesMeta } from '../../lib/attribution/features.ts';
import { projectorSpec } from '../../lib/attribution/featurize.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { createNetwork } from '../../lib/models/index.ts';
import { Rng } from '../../lib/random/rng.ts';
import { dataset } from '../../stages/dataset.ts';
import { lds } from '../../stages/lds.ts';
import { linearize } from '../../stages/linearize.ts';
import { subsets } from '../../stages/subsets.ts';
import { train } from '../../stages/train.ts';
import { trak } from '../../stages/trak.ts';
import { builtinModels } from '../helpers/builtins.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';
import { datasetArtifact, randomData } from './helpers.ts';

const backend = process.env.ATTRIB_TEST_BACKEND ?? 'wasm';

test('projectorSpec: model s is seeded seed + 10⁴·s; shared keeps the base seed', (t) => {
  const p = { kind: 'gaussian' as const, dim: 8, seed: 5, shared: false };
  t.deepEqual([0, 1, 2].map((s) => projectorSpec(p, 'h', s).seed), [5, 10_005, 20_005]);
  t.deepEqual([0, 1, 2].map((s) => projectorSpec({ ...p, shared: true }, 'h', s).seed), [5, 5, 5]);
});

/** A models artifact holding the same network twice: only P can tell them apart. */
async function twinModels(data: Artifact, featureShape: number[], classes: number): Promise<Artifact> {
  const dir = tempDir('attrib-twins-');
  const net = createNetwork(builtinModels(), { kind: 'logreg' }, { featureShape, classes }, Rng.from('twin'));
  for (let s = 0; s < 2; s++) await net.save(join(dir, MODELS.modelDir(s)));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MODELS.meta), JSON.stringify({ models: 2, seeds: 1, masks: 2, checkpoints: [] }));
  return { kind: 'models', stageKind: 'train', hash: `twins-${Math.random()}` as StageHash, dir, params: { model: { kind: 'logreg' } }, metrics: {}, units: 0, inputs: { data } };
}

test('two models of one linearize stage get different projections (kronecker and gaussian); shared gives one', async (t) => {
  await initBackend(backend);
  const d = randomData('per-model-twins', 12, 3, [6], 3);
  const models = await twinModels(datasetArtifact(d), [6], 3);
  for (const kind of ['gaussian', 'kronecker'] as const) {
    for (const shared of [false, true]) {
      const out = await runStage(linearize, { params: { projector: { kind, dim: 6, seed: 9, shared } }, inputs: { models } });
      const a = readNpy(join(out.dir, FEATURES.train(0))).data;
      const b = readNpy(join(out.dir, FEATURES.train(1))).data;
      const meta = JSON.parse(readFileSync(join(out.dir, FEATURES.meta), 'utf8')) as FeaturesMeta;
      if (shared) t.deepEqual(b, a, `${kind}, shared: one P`);
      else t.notDeepEqual(b, a, `${kind}: model 1 has its own P`);
      t.is(meta.perModel, !shared);
    }
  }
});

test('per-model projections score a higher LDS than one shared projection, for every projector seed', async (t) => {
  await initBackend(backend);
  const data = await runStage(dataset, { params: { source: { kind: 'synthetic', generator: 'teacher', dim: 8, classes: 3, seed: 3 }, train: 80, test: 16 } });
  const recipe = { model: { kind: 'logreg' }, fit: { epochs: 15, batchSize: 16, optimizer: { kind: 'sgd', lr: 0.1 } } };
  const trained = async (count: number, seed: number) =>
    runStage(train, { params: recipe, inputs: { data, masks: await runStage(subsets, { params: { count, seed }, inputs: { data } }) } });
  const ensemble = await trained(10, 11);
  const truth = await trained(40, 12);
  const score = async (seed: number, shared: boolean) => {
    const features = await runStage(linearize, { params: { projector: { kind: 'gaussian', dim: 4, seed, shared } }, inputs: { models: ensemble } });
    const scores = await runStage(trak, { params: { lambda: { relative: 0.05 } }, inputs: { features } });
    const out = await runStage(lds, { params: { bootstrap: 0 }, inputs: { scores, models: truth } });
    return out.metrics.lds as number;
  };
  const gaps: string[] = [];
  for (const seed of [1, 2, 3, 4]) {
    const perModel = await score(seed, false);
    const shared = await score(seed, true);
    gaps.push(`seed ${seed}: per-model ${perModel.toFixed(3)}, shared ${shared.toFixed(3)}`);
    t.true(perModel > shared, gaps.at(-1));
  }
  t.log(gaps.join('; '));
});
