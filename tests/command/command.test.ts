/**
 * Command stages that work: the files a script writes become a checked artifact that
 * attrib's own stages read (trak on command-features, lds on command-scores), and the
 * script's content is part of the stage hash.
 */
import test from 'ava';
import { appendFileSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../lib/io/npy.ts';
import { attrib, entry, readJson, runJson, tmp, writeConfig } from '../engine/helpers.ts';
import { configHead, FAKE, PYTHON } from './helpers.ts';

const runs = tmp('attrib-command-ok-');

function config(name: string, script: string): string {
  return `${configHead(name)}  models:
    kind: command-models
    inputs: {data: data, masks: masks}
    params:
      seeds: 2
      command: [${PYTHON}, ${script}, model, "\${out}", "\${input.data}", "\${mask_file}"]
  features:
    kind: command-features
    inputs: {models: models}
    params:
      targets: {split: test, count: 4}
      command: [${PYTHON}, ${script}, features, "\${out}", "\${data}"]
  trak: {kind: trak, inputs: {features: features}}
  scores:
    kind: command-scores
    inputs: {data: data, models: models}
    params:
      targets: {split: test, count: 4}
      topK: 2
      command: [${PYTHON}, ${script}, scores, "\${out}", "\${input.data}"]
  lds: {kind: lds, inputs: {scores: scores, models: models}}
`;
}

test('models, features and scores from a script become artifacts that trak and lds read', async (t) => {
  const r = await attrib(['run', writeConfig(tmp(), config('ok', FAKE)), '--runs', runs]);
  t.is(r.code, 0, r.stderr);
  const run = runJson(runs, 'ok');
  const models = entry(runs, run.models!.hash);
  // 2 masks × 2 seeds; fake.py writes margins_train[i] = 0.01·i + m, margins_test[j] = 0.02·j − m.
  const margins = readNpy(join(models, 'margins_train.npy'));
  t.deepEqual(margins.shape, [4, 30]);
  t.is(margins.dtype, 'float32');
  t.is(margins.data[3 * 30 + 5], Math.fround(0.05 + 3));
  const probs = readNpy(join(models, 'probs_test.npy'));
  t.true(Math.abs(probs.data[2 * 10 + 7]! - 1 / (1 + Math.exp(-(0.14 - 2)))) < 1e-6, 'probs = σ(margins) when the script writes none');
  t.deepEqual([...(readNpy(join(models, 'mask_of_model.npy')).data as Int32Array)], [0, 0, 1, 1]);
  t.deepEqual([...(readNpy(join(models, 'seed_of_model.npy')).data as Int32Array)], [0, 1, 0, 1]);
  t.deepEqual(readJson(join(models, 'models.json')).testAccuracy, [0.5, 0.51, 0.52, 0.53]);
  t.true(existsSync(join(models, 'units', '3', 'fit.json')), 'the script\'s own files stay in its unit');

  const features = entry(runs, run.features!.hash);
  t.deepEqual(readNpy(join(features, 'train_3.npy')).shape, [30, 3]);
  t.deepEqual(readNpy(join(features, 'probs_train.npy')).shape, [4, 30]);
  t.deepEqual([...(readNpy(join(features, 'target_index.npy')).data as Int32Array)], [0, 1, 2, 3]);
  t.is(run.trak!.status, 'ran');
  t.deepEqual(readNpy(join(entry(runs, run.trak!.hash), 'scores.npy')).shape, [4, 30]);

  const scores = entry(runs, run.scores!.hash);
  t.deepEqual(readNpy(join(scores, 'scores.npy')).shape, [4, 30]);
  const top = readJson(join(scores, 'top.json'));
  t.is(top.length, 4);
  t.is(top[0].proponents.length, 2);
  t.is(top[0].proponents[0].score, 5); // fake.py: ((7j + i) mod 11) − 5, largest 5
  t.is(run.lds!.status, 'ran');
  t.is(typeof run.lds!.metrics.lds, 'number');

  // The unit's stdout and stderr are in its log, beside the store.
  const log = readFileSync(join(runs, 'command-logs', run.models!.hash, 'unit-1.log'), 'utf8');
  t.regex(log, /trained model 1 on \S+mask\.npy\ndone\n# exit 0/);
});

test('editing the script re-runs the stages that use it; an unchanged script is served from cache', async (t) => {
  const dir = tmp();
  const script = join(dir, 'train.py');
  copyFileSync(FAKE, script);
  const path = writeConfig(dir, config('edit', script));
  let r = await attrib(['run', path, '--runs', runs]);
  t.is(r.code, 0, r.stderr);
  const before = runJson(runs, 'edit');
  r = await attrib(['run', path, '--runs', runs]);
  t.is(runJson(runs, 'edit').models!.status, 'cached');
  appendFileSync(script, '# tuned the learning rate\n');
  r = await attrib(['run', path, '--runs', runs]);
  t.is(r.code, 0, r.stderr);
  const after = runJson(runs, 'edit');
  t.is(after.data!.hash, before.data!.hash);
  for (const stage of ['models', 'features', 'scores', 'lds']) {
    t.not(after[stage]!.hash, before[stage]!.hash, stage);
    t.is(after[stage]!.status, 'ran', stage);
  }
});
