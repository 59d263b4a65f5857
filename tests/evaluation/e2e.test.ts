// End to end through the CLI: datamodels and lds on a tiny synthetic task, and a
// datamodels run killed after its first finished unit, resumed, and compared with a
// forced full rerun. The datamodels stage is the real kind behind a test gate
// (gated-datamodels, tests/fixtures/engine/gate-plugin.ts): the test decides which unit
// finishes before the kill, so the resume is exercised every time.
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCORES } from '../../lib/artifacts.ts';
import { attrib, entry, finishedUnits, runJson, start, tmp } from '../engine/helpers.ts';
import { Gate, GATE_PLUGIN, waitUntil } from '../helpers/rig.ts';

const CONFIG = `
name: e2e-evaluation
seed: 0
plugins: [GATE_PLUGIN]
defaults:
  recipe: &recipe
    model: {kind: logreg}
    fit: {epochs: 20, batchSize: 10, optimizer: {kind: sgd, lr: 0.1}}
stages:
  data:       {kind: dataset, params: {source: {kind: synthetic, generator: teacher, dim: 4, classes: 2, seed: 3}, train: 30, test: 8}}
  masks:      {kind: subsets, inputs: {data: data}, params: {count: 4, seed: 1}}
  models:     {kind: train, inputs: {data: data, masks: masks}, params: *recipe}
  features:   {kind: linearize, inputs: {models: models}, params: {projector: {kind: identity}}}
  trak:       {kind: trak, inputs: {features: features}, params: {lambda: {relative: 0.01}}}
  dm_masks:   {kind: subsets, inputs: {data: data}, params: {count: 80, seed: 2}}
  dm_models:  {kind: train, inputs: {data: data, masks: dm_masks}, params: *recipe}
  datamodels: {kind: gated-datamodels, inputs: {models: dm_models}, params: {blockSize: 1}}
  gt_masks:   {kind: subsets, inputs: {data: data}, params: {count: 24, seed: 3}}
  gt_models:  {kind: train, inputs: {data: data, masks: gt_masks}, params: *recipe}
  lds_trak:   {kind: lds, inputs: {scores: trak, models: gt_models}}
  lds_datamodels: {kind: lds, inputs: {scores: datamodels, models: gt_models}}
`;

test('datamodels and lds run end to end; a killed datamodels resumes to the same scores', async (t) => {
  const dir = tmp('attrib-e2e-evaluation-');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, CONFIG.replace('GATE_PLUGIN', GATE_PLUGIN));
  const runs = join(dir, 'runs');
  const plan = await attrib(['plan', config, '--runs', runs]);
  t.is(plan.code, 0, plan.stderr);
  t.regex(plan.stdout, /datamodels\s+gated-datamodels\s+[0-9a-f]{12}/);

  // First run: let one datamodels unit finish, kill while two more are running.
  const gate = new Gate();
  const first = start(['run', config, '--runs', runs, '--jobs', '2'], { env: gate.env });
  const [done] = await gate.arrived(2);
  const { hash, pid } = done!;
  gate.open(done!.index);
  await waitUntil(`datamodels unit ${done!.index} to finish`, () => finishedUnits(runs, hash) === 1);
  await gate.arrived(3, pid);
  first.child.kill('SIGKILL');
  t.is((await first.done).signal, 'SIGKILL', 'the first run was killed, it did not finish');
  t.is(finishedUnits(runs, hash), 1, 'killed mid-stage: one of 8 units finished');
  t.false(existsSync(join(entry(runs, hash), 'manifest.json')));

  gate.openAll();
  const second = await attrib(['run', config, '--runs', runs, '--jobs', '2'], { env: gate.env });
  t.is(second.code, 0, second.stderr);
  t.regex(second.stderr, /\[datamodels\] started 8 units \(1 done earlier, resuming\)/);
  const resumedUnits = gate.arrivals().filter((a) => a.pid !== pid).map((a) => a.index);
  t.deepEqual(
    resumedUnits.sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => i !== done!.index),
    'the resumed run skipped the finished unit and ran each other unit once',
  );
  const record = runJson(runs, 'e2e-evaluation');
  const m = record.lds_datamodels.metrics;
  t.is(m.targets, 8);
  t.is(m.subsets, 24);
  t.is(m.seedsPerSubset, 1);
  t.log(`LDS: datamodels ${m.lds}, trak ${record.lds_trak.metrics.lds}`);
  t.true((m.lds as number) > 0.1, `datamodels LDS ${m.lds}`);
  t.true((record.lds_trak.metrics.lds as number) > 0.3, `trak LDS ${record.lds_trak.metrics.lds}`);
  const resumed = readFileSync(join(entry(runs, record.datamodels.hash), SCORES.scores));
  // linearize's units are scratch (scratchUnits): combined into the entry, then removed,
  // so the features are stored once; `attrib verify` still finds the entry whole.
  t.false(existsSync(join(entry(runs, record.features.hash), 'units')), 'no unit chunks beside the combined features');
  t.true(existsSync(join(entry(runs, record.features.hash), 'train_0.npy')));
  const verify = await attrib(['verify', '--runs', runs]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);

  t.is(record.datamodels.hash, hash);
  const forced = await attrib(['run', config, '--runs', runs, '--jobs', '2', '--force', 'datamodels'], { env: gate.env });
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(readFileSync(join(entry(runs, record.datamodels.hash), SCORES.scores)), resumed);
});
