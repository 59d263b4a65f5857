import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { hasUnits } from '../../pipeline/registry.ts';
import { SCORES } from '../../lib/artifacts.ts';
import { datamodels, readDatamodelExtras } from '../../stages/datamodels.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { lds } from '../../stages/lds.ts';
import { Rng } from '../../lib/random/rng.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';
import { builtins } from '../helpers/builtins.ts';
import { dataset, masksArtifact, modelsArtifact, randomMasks } from './fakes.ts';

const nTrain = 50;
const nTest = 7;

/** Models whose test margins are a planted sparse linear function of their mask, plus seed noise. */
function planted(data: Artifact, count: number, seeds: number, label: string, w: Float32Array, b: Float32Array, noise: number) {
  const rng = Rng.from('datamodels-test', label);
  const masks = randomMasks(count, nTrain, 0.5, rng);
  const margins = new Float32Array(count * seeds * nTest);
  const maskOf = new Int32Array(count * seeds);
  for (let k = 0; k < count; k++) for (let s = 0; s < seeds; s++) {
    const m = k * seeds + s;
    maskOf[m] = k;
    for (let j = 0; j < nTest; j++) {
      let f = b[j];
      for (let i = 0; i < nTrain; i++) if (masks[k * nTrain + i]) f += w[j * nTrain + i];
      margins[m * nTest + j] = f + noise * rng.normal();
    }
  }
  return modelsArtifact(data, masksArtifact(data, masks, count, nTrain), margins, maskOf, nTest, seeds);
}

function plantedMap() {
  const rng = Rng.from('datamodels-map');
  const w = new Float32Array(nTest * nTrain);
  for (let j = 0; j < nTest; j++) for (const i of rng.permutation(nTrain).subarray(0, 5)) w[j * nTrain + i] = (rng.uniform() < 0.5 ? -1 : 1) * (0.5 + rng.uniform());
  const b = rng.fillNormal(new Float32Array(nTest));
  return { w, b };
}

const params = { targets: { indices: [6, 0, 2, 3, 4] }, blockSize: 2, path: 15, lambdaMinRatio: 0.001 };

test('datamodels recovers a planted sparse linear map, and it scores a high LDS on fresh subsets', async (t) => {
  const data = dataset();
  const { w, b } = plantedMap();
  const models = planted(data, 300, 2, 'train', w, b, 0.3);
  const out = await runStage(datamodels, { inputs: { models }, params });
  t.is(out.units, 3);
  const scores = readNpy(join(out.dir, SCORES.scores));
  t.deepEqual(scores.shape, [5, nTrain]);
  t.deepEqual(Array.from(readNpy(join(out.dir, SCORES.targetIndex)).data), params.targets.indices);
  const { intercept } = readDatamodelExtras(out.dir);
  params.targets.indices.forEach((target, j) => {
    let err = 0;
    let norm = 0;
    for (let i = 0; i < nTrain; i++) {
      err += (scores.data[j * nTrain + i] - w[target * nTrain + i]) ** 2;
      norm += w[target * nTrain + i] ** 2;
    }
    t.true(Math.sqrt(err / norm) < 0.15, `target ${target}: relative error ${Math.sqrt(err / norm)}`);
    t.true(Math.abs(intercept[j] - b[target]) < 0.3, `target ${target}: intercept ${intercept[j]} vs ${b[target]}`);
  });
  t.true((out.metrics.heldOutR2 as number) > 0.8, `held-out R² ${out.metrics.heldOutR2}`);
  const meta = JSON.parse(readFileSync(join(out.dir, SCORES.meta), 'utf8'));
  t.is(meta.method, 'datamodels');

  // Fresh subsets, single seed: the planted map is the whole signal apart from noise.
  const fresh = planted(data, 60, 1, 'fresh', w, b, 0.3);
  const scored = await runStage(lds, { inputs: { scores: out, models: fresh } });
  t.true((scored.metrics.lds as number) > 0.85, `lds ${scored.metrics.lds}`);
});

test('datamodels resumes after a kill: finished units are kept, the rest run, the result is the same', async (t) => {
  const data = dataset();
  const { w, b } = plantedMap();
  const models = planted(data, 120, 1, 'resume', w, b, 0.3);
  const whole = await runStage(datamodels, { inputs: { models }, params });

  const dir = tempDir();
  await runStage(datamodels, { inputs: { models }, params, dir, onlyUnits: [1] }); // killed after unit 1
  const unit1 = readFileSync(join(dir, 'units/1/weights.npy'));
  await runStage(datamodels, { inputs: { models }, params, dir, onlyUnits: [0, 2] }); // the resumed run's units
  t.deepEqual(readFileSync(join(dir, 'units/1/weights.npy')), unit1);
  // Combine over the units on disk, as the engine does after a resume.
  if (!hasUnits(datamodels)) throw new Error('datamodels has units');
  const p = datamodels.params.parse(params);
  const outDir = tempDir();
  await datamodels.combine({
    params: p, inputs: { models }, hash: whole.hash, seed: 0, backend: 'wasm', dir, outDir, log: () => {}, registry: builtins(),
    count: 3, unitDir: (i) => join(dir, 'units', String(i)), unitOutcomes: [],
  });
  t.deepEqual(readFileSync(join(outDir, SCORES.scores)), readFileSync(join(whole.dir, SCORES.scores)));
});

test('bad targets are refused with the reason', async (t) => {
  const data = dataset();
  const { w, b } = plantedMap();
  const models = planted(data, 20, 1, 'bad', w, b, 0.3);
  await t.throwsAsync(runStage(datamodels, { inputs: { models }, params: { targets: { indices: [7] } } }), { message: /targets.indices contains 7, but the test split has 7 examples/ });
  await t.throwsAsync(runStage(datamodels, { inputs: { models }, params: { targets: { split: 'test', count: 8 } } }), { message: /targets.count = 8/ });
  t.throws(() => datamodels.params.parse({ targets: { split: 'test', count: 3 }, heldout: 0.2 }));
});
