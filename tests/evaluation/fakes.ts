/**
 * Hand-made upstream artifacts (data set, masks, trained models, scores) as the
 * evaluation kinds read them, so their math is tested without training anything.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, StageHash } from '../../pipeline/registry.ts';
import { MASKS, MODELS, SCORES } from '../../lib/artifacts.ts';
import { writeNpy } from '../../lib/io/npy.ts';
import { Rng } from '../../lib/random/rng.ts';
import { tempDir } from '../helpers/run-stage.ts';

let counter = 0;
const fakeHash = (label: string) => `${label}-${++counter}`.padEnd(64, '0') as StageHash;

export function artifact(kind: string, stageKind: string, inputs: Record<string, Artifact> = {}, params: unknown = {}): Artifact {
  const dir = tempDir(`attrib-fake-${kind}-`);
  return { kind, stageKind, hash: fakeHash(kind), dir, params, metrics: {}, units: 0, inputs };
}

export function dataset(params: unknown = { source: 'fake' }): Artifact {
  return artifact('dataset', 'dataset', {}, params);
}

/** Bernoulli(α) masks [count, nTrain]. */
export function randomMasks(count: number, nTrain: number, alpha: number, rng: Rng): Uint8Array {
  const m = new Uint8Array(count * nTrain);
  for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < alpha ? 1 : 0;
  return m;
}

export function masksArtifact(data: Artifact, masks: Uint8Array, count: number, nTrain: number): Artifact {
  const a = artifact('masks', 'subsets', { data });
  writeNpy(join(a.dir, MASKS.masks), masks, [count, nTrain]);
  writeFileSync(join(a.dir, MASKS.meta), JSON.stringify({ count, nTrain, alpha: 0.5, mode: 'bernoulli' }));
  return a;
}

/** A train stage's artifact: margins_test [models, nTest], model m on mask maskOf[m]. */
export function modelsArtifact(data: Artifact, masks: Artifact, marginsTest: Float32Array, maskOf: Int32Array, nTest: number, seeds: number): Artifact {
  const a = artifact('models', 'train', { data, masks });
  const nModels = maskOf.length;
  mkdirSync(a.dir, { recursive: true });
  writeNpy(join(a.dir, MODELS.marginsTest), marginsTest, [nModels, nTest]);
  writeNpy(join(a.dir, MODELS.maskOf), maskOf, [nModels]);
  writeFileSync(join(a.dir, MODELS.meta), JSON.stringify({ models: nModels, seeds, masks: nModels / seeds, trainAccuracy: [], testAccuracy: [], checkpoints: [] }));
  a.units = nModels;
  return a;
}

/** A scores artifact reached as scores → features → models → data. */
export function scoresArtifact(data: Artifact, scores: Float32Array, targetIndex: Int32Array, nTrain: number): Artifact {
  const trained = artifact('models', 'train', { data });
  const features = artifact('features', 'linearize', { models: trained });
  const a = artifact('scores', 'trak', { features });
  writeNpy(join(a.dir, SCORES.scores), scores, [targetIndex.length, nTrain]);
  writeNpy(join(a.dir, SCORES.targetIndex), targetIndex, [targetIndex.length]);
  return a;
}
