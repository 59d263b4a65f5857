// End to end through the CLI: datamodels and lds on a tiny synthetic task, and a
// datamodels run killed after its first finished unit, resumed, and compared with a
// forced full rerun.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCORES } from '../../lib/artifacts.ts';
import { attrib, entry, finishedUnits, runJson, sleep, start, tmp } from '../engine/helpers.ts';

const CONFIG = `
name: e2e-evaluation
seed: 0
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
  datamodels: {kind: datamodels, inputs: {models: dm_models}, params: {blockSize: 1}}
  gt_masks:   {kind: subsets, inputs: {data: data}, params: {count: 24, seed: 3}}
  gt_models:  {kind: train, inputs: {data: data, masks: gt_masks}, params: *recipe}
  lds_trak:   {kind: lds, inputs: {scores: trak, models: gt_models}}
  lds_datamodels: {kind: lds, inputs: {scores: datamodels, models: gt_models}}
`;

test('datamodels and lds run end to end; a killed datamodels resumes to the same scores', async (t) => {
  const dir = tmp('attrib-e2e-evaluation-');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, CONFIG);
  const runs = join(dir, 'runs');
  const plan = await attrib(['plan', config, '--runs', runs]);
  t.is(plan.code, 0, plan.stderr);
  const hash = /datamodels\s+datamodels\s+([0-9a-f]{12})/.exec(plan.stdout)?.[1];
  t.truthy(hash, plan.stdout);

  // First run: kill it as soon as one datamodels unit has finished.
  const first = start(['run', config, '--runs', runs, '--jobs', '2']);
  let killedEarly = false;
  for (;;) {
    const r = await Promise.race([first.done.then(() => 'done' as const), sleep(100).then(() => 'tick' as const)]);
    if (r === 'done') break;
    const store = join(runs, 'store');
    const full = existsSync(store) ? readdirSync(store).find((h) => h.startsWith(hash!)) : undefined;
    if (full && finishedUnits(runs, full) >= 1) {
      killedEarly = finishedUnits(runs, full) < 8;
      first.child.kill('SIGKILL');
      await first.done;
      break;
    }
  }
  const second = await attrib(['run', config, '--runs', runs, '--jobs', '2']);
  t.is(second.code, 0, second.stderr);
  const record = runJson(runs, 'e2e-evaluation');
  const m = record.lds_datamodels.metrics;
  t.is(m.targets, 8);
  t.is(m.subsets, 24);
  t.is(m.seedsPerSubset, 1);
  t.log(`LDS: datamodels ${m.lds}, trak ${record.lds_trak.metrics.lds}; killed with units left: ${killedEarly}`);
  t.true((m.lds as number) > 0.1, `datamodels LDS ${m.lds}`);
  t.true((record.lds_trak.metrics.lds as number) > 0.3, `trak LDS ${record.lds_trak.metrics.lds}`);
  if (!killedEarly) t.log('datamodels finished before the kill; resume not exercised this time');
  const resumed = readFileSync(join(entry(runs, record.datamodels.hash), SCORES.scores));

  const forced = await attrib(['run', config, '--runs', runs, '--jobs', '2', '--force', 'datamodels']);
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(readFileSync(join(entry(runs, record.datamodels.hash), SCORES.scores)), resumed);
});
