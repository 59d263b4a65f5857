/**
 * Imports: scores, features, margins and masks from .npy files, checked against the
 * data set, with sha256 pins; lds scores imported scores against imported margins.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../lib/io/npy.ts';
import { attrib, entry, readJson, ROOT, runJson, tmp, writeConfig } from '../engine/helpers.ts';

const runs = tmp('attrib-import-');
const nTrain = 30;
const nTest = 10;
const targets = 4;
const subsets = 6;
const DATA = `  data: {kind: dataset, params: {source: {kind: synthetic, dim: 4}, train: ${nTrain}, test: ${nTest}}}\n`;

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Scores τ (train × targets, as MadryLab/trak saves them), masks, and margins that are exactly ĝ_j(S_k) = Σ_{i∈S_k} τ_j,i. */
function files(dir: string) {
  const tau = new Float64Array(nTrain * targets); // float64 [nTrain, targets]: converted on import
  for (let i = 0; i < nTrain; i++) for (let j = 0; j < targets; j++) tau[i * targets + j] = Math.sin(1 + i * 7 + j * 3);
  const masks = new Uint8Array(subsets * nTrain);
  for (let k = 0; k < subsets; k++) for (let i = 0; i < nTrain; i++) masks[k * nTrain + i] = (i * (k + 2) + k) % 3 === 0 ? 1 : 0;
  const train = new Float32Array(subsets * nTrain);
  const test = new Float32Array(subsets * nTest);
  for (let k = 0; k < subsets; k++) {
    for (let j = 0; j < targets; j++) {
      let g = 0;
      for (let i = 0; i < nTrain; i++) g += masks[k * nTrain + i]! * tau[i * targets + j]!;
      test[k * nTest + j] = g;
    }
  }
  const paths = { scores: join(dir, 'scores.npy'), masks: join(dir, 'masks.npy'), train: join(dir, 'margins_train.npy'), test: join(dir, 'margins_test.npy') };
  writeNpy(paths.scores, { dtype: 'float64', shape: [nTrain, targets], data: tau });
  writeNpy(paths.masks, masks, [subsets, nTrain]);
  writeNpy(paths.train, train, [subsets, nTrain]);
  writeNpy(paths.test, test, [subsets, nTest]);
  return { ...paths, tau };
}

function config(name: string, p: ReturnType<typeof files>, scores = `{path: ${p.scores}, sha256: ${sha(p.scores)}}`, layout = 'train-by-targets'): string {
  return `name: ${name}
stages:
${DATA}  masks:   {kind: import-masks, inputs: {data: data}, params: {masks: ${p.masks}}}
  margins: {kind: import-margins, inputs: {data: data, masks: masks}, params: {train: ${p.train}, test: ${p.test}}}
  scores:
    kind: import-scores
    inputs: {data: data}
    params: {scores: ${scores}, layout: ${layout}, targets: {split: test, count: ${targets}}, method: trak-madrylab}
  lds: {kind: lds, inputs: {scores: scores, models: margins}}
`;
}

test('imported TRAK scores (train × targets, float64, pinned) are scored by lds against imported margins', async (t) => {
  const p = files(tmp());
  const r = await attrib(['run', writeConfig(tmp(), config('scored', p)), '--runs', runs]);
  t.is(r.code, 0, r.stderr);
  const run = runJson(runs, 'scored');
  const scores = readNpy(join(entry(runs, run.scores!.hash), 'scores.npy'));
  t.deepEqual(scores.shape, [targets, nTrain]);
  t.is(scores.dtype, 'float32');
  t.is(scores.data[2 * nTrain + 5], Math.fround(p.tau[5 * targets + 2]!), 'transposed into targets × train');
  t.is(readJson(join(entry(runs, run.scores!.hash), 'scores.json')).method, 'trak-madrylab');
  // The margins are exactly the scores' subset sums, so every target ranks the subsets perfectly.
  t.is(run.lds!.metrics.lds, 1);
});

test('a pin that does not match, and a file of the wrong layout, are one-line errors', async (t) => {
  const p = files(tmp());
  const pinned = writeConfig(tmp(), config('pin', p, `{path: ${p.scores}, sha256: ${'a'.repeat(64)}}`));
  let r = await attrib(['run', pinned, '--runs', runs]);
  t.is(r.code, 2);
  t.true(r.stderr.includes(`${pinned}:9 stages.scores.params.scores: ${p.scores} has sha256 ${sha(p.scores)}, but the config pins ${'a'.repeat(64)}: the file changed`), r.stderr);

  r = await attrib(['run', writeConfig(tmp(), config('layout', p, p.scores, 'targets-by-train')), '--runs', runs]);
  t.is(r.code, 1);
  t.is(runJson(runs, 'layout').scores!.error, `import-scores: ${p.scores} has shape [30, 4], which is train × targets: add layout: train-by-targets`);
});

test('arrays whose sizes do not match the data set are refused', async (t) => {
  const dir = tmp();
  const p = files(dir);
  writeNpy(p.test, new Float32Array(subsets * (nTest + 1)), [subsets, nTest + 1]);
  const r = await attrib(['run', writeConfig(tmp(), config('sizes', p)), '--runs', runs]);
  t.is(r.code, 1);
  t.is(runJson(runs, 'sizes').margins!.error, `import-margins: ${p.test} has shape [6, 11], expected [6, 10] (models = 6, nTest = 10)`);
  t.deepEqual(Object.keys(runJson(runs, 'sizes').margins!.metrics), []);
});

test('imported features feed the trak solve', async (t) => {
  const dir = tmp();
  const k = 3;
  const paths: string[] = [];
  for (let s = 0; s < 2; s++) {
    const train = Float32Array.from({ length: nTrain * k }, (_, i) => Math.cos(i + s));
    const tg = Float32Array.from({ length: targets * k }, (_, i) => Math.sin(i - s));
    writeNpy(join(dir, `train_${s}.npy`), train, [nTrain, k]);
    writeNpy(join(dir, `targets_${s}.npy`), tg, [targets, k]);
    paths.push(join(dir, `train_${s}.npy`), join(dir, `targets_${s}.npy`));
  }
  writeNpy(join(dir, 'probs.npy'), new Float32Array(2 * nTrain).fill(0.5), [2, nTrain]);
  const text = `name: feats
stages:
${DATA}  features:
    kind: import-features
    inputs: {data: data}
    params: {train: [${paths[0]}, ${paths[2]}], targets: [${paths[1]}, ${paths[3]}], probs: ${join(dir, 'probs.npy')}, targetIndices: {indices: [3, 1, 4, 0]}, projector: gaussian}
  trak: {kind: trak, inputs: {features: features}, params: {lambda: 0.1}}
`;
  const r = await attrib(['run', writeConfig(tmp(), text), '--runs', runs]);
  t.is(r.code, 0, r.stderr);
  const run = runJson(runs, 'feats');
  const out = entry(runs, run.trak!.hash);
  t.deepEqual(readNpy(join(out, 'scores.npy')).shape, [targets, nTrain]);
  t.deepEqual([...(readNpy(join(out, 'target_index.npy')).data as Int32Array)], [3, 1, 4, 0]);
  t.is(run.trak!.metrics.projector, 'gaussian');
});

test('examples/pytorch/import-trak.yaml runs as written on files named as it says', async (t) => {
  const dir = tmp();
  const p = files(dir); // scores.npy (train × targets), masks.npy, margins_*.npy
  const rename = (from: string, to: string) => writeNpy(join(dir, to), readNpy(from));
  rename(p.scores, 'trak_scores.npy');
  rename(p.masks, 'lds_masks.npy');
  rename(p.train, 'lds_margins_train.npy');
  rename(p.test, 'lds_margins_test.npy');
  const x = (n: number) => Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i));
  writeNpy(join(dir, 'x_train.npy'), x(nTrain), [nTrain, 4]);
  writeNpy(join(dir, 'x_test.npy'), x(nTest), [nTest, 4]);
  writeNpy(join(dir, 'y_train.npy'), Int32Array.from({ length: nTrain }, (_, i) => i % 3));
  writeNpy(join(dir, 'y_test.npy'), Int32Array.from({ length: nTest }, (_, i) => i % 3));
  for (let s = 0; s < 2; s++) {
    writeNpy(join(dir, `phi_train_${s}.npy`), Float32Array.from({ length: nTrain * 3 }, (_, i) => Math.cos(i * (s + 1))), [nTrain, 3]);
    writeNpy(join(dir, `phi_targets_${s}.npy`), Float32Array.from({ length: targets * 3 }, (_, i) => Math.sin(i + s)), [targets, 3]);
  }
  writeNpy(join(dir, 'probs_train.npy'), new Float32Array(2 * nTrain).fill(0.7), [2, nTrain]);
  const r = await attrib(['run', join(ROOT, 'examples', 'pytorch', 'import-trak.yaml'), '--runs', join(dir, 'runs')], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const run = runJson(join(dir, 'runs'), 'import-trak');
  t.is(run.lds!.metrics.lds, 1);
  t.is(run.lds_trak!.status, 'ran');
});
