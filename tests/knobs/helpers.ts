/**
 * Upstream artifacts for the knob tests: a real data set and real knob subsets (the
 * stages are cheap), and hand-made trained models and scores whose outputs are planted,
 * so the knob kinds' math is tested without training anything.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, StageHash } from '../../pipeline/registry.ts';
import { MASKS, MODELS } from '../../lib/artifacts.ts';
import { dataset } from '../../stages/dataset.ts';
import { readNpy, writeNpy } from '../../lib/io/npy.ts';
import { subsets } from '../../stages/subsets.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';

// Own hash labels (not the evaluation fakes'): knobmodel seeds its held-out split with
// the stage hash, which the input hashes feed, and the tests' thresholds are for these.
let counter = 0;
const fakeHash = (label: string) => `${label}-knobs-${++counter}`.padEnd(64, '0') as StageHash;

export function artifact(kind: string, stageKind: string, inputs: Record<string, Artifact> = {}): Artifact {
  return { kind, stageKind, hash: fakeHash(kind), dir: tempDir(`attrib-knobs-${kind}-`), params: {}, metrics: {}, units: 0, inputs };
}

/** Synthetic blobs: `train` train and `test` test examples, `classes` classes. */
export function syntheticData(train: number, test: number, classes = 3): Promise<Artifact> {
  return runStage(dataset, { params: { source: { kind: 'synthetic', dim: 3, classes, n: train + test }, train, test } });
}

export function knobSubsets(data: Artifact, count: number, knobs: unknown, seed?: number): Promise<Artifact> {
  return runStage(subsets, { params: { count, knobs, ...(seed !== undefined ? { seed } : {}) }, inputs: { data } });
}

export function readMasks(a: Artifact) {
  return {
    masks: readNpy(join(a.dir, MASKS.masks)),
    theta: readNpy(join(a.dir, MASKS.theta)),
    inclusion: readNpy(join(a.dir, MASKS.inclusion)),
    groupOf: readNpy(join(a.dir, MASKS.groupOf)).data as Int32Array,
  };
}

/**
 * A train stage's artifact over `masks` with `seeds` models per draw: the margin of test
 * example t under model m (draw m / seeds) is output(draw, t, seed).
 */
export function plantedModels(data: Artifact, masks: Artifact, nTest: number, seeds: number, output: (draw: number, t: number, seed: number) => number): Artifact {
  const count = readNpy(join(masks.dir, MASKS.masks)).shape[0];
  const a = artifact('models', 'train', { data, masks });
  const n = count * seeds;
  const margins = new Float32Array(n * nTest);
  const maskOf = new Int32Array(n);
  for (let m = 0; m < n; m++) {
    maskOf[m] = Math.floor(m / seeds);
    for (let t = 0; t < nTest; t++) margins[m * nTest + t] = output(maskOf[m], t, m % seeds);
  }
  mkdirSync(a.dir, { recursive: true });
  writeNpy(join(a.dir, MODELS.marginsTest), margins, [n, nTest]);
  writeNpy(join(a.dir, MODELS.maskOf), maskOf, [n]);
  writeFileSync(join(a.dir, MODELS.meta), JSON.stringify({ models: n, seeds, masks: count, nTest }));
  a.units = n;
  return a;
}

/** A scores artifact reached as scores → features → models → data (the evaluation tests' fake). */
export { scoresArtifact as plantedScores } from '../evaluation/fakes.ts';

export const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
