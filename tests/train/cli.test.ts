/**
 * dataset → subsets → train through the real CLI and engine (worker threads), and a
 * run killed with SIGKILL mid-stage that resumes without retraining finished models.
 */
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS } from '../../lib/artifacts.ts';
import { readNpyHeader } from '../../lib/io/npy.ts';
import { attrib, entry, finishedUnits, runJson, sleep, start, tmp, writeConfig } from '../engine/helpers.ts';

const config = (epochs: number) => `
name: train-cli
seed: 3
backend: wasm
stages:
  data: {kind: dataset, params: {source: {kind: synthetic, dim: 8, classes: 3, n: 400}, train: 300, test: 100}}
  masks: {kind: subsets, inputs: {data: data}, params: {count: 3, alpha: 0.5}}
  models:
    kind: train
    inputs: {data: data, masks: masks}
    params:
      model: {kind: mlp, hidden: [16]}
      fit: {epochs: ${epochs}, batchSize: 32, optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}}
      seeds: 2
`;

const trainedIn = (stdout: string) => [...stdout.matchAll(/\] model (\d+) \(mask/g)].map((m) => Number(m[1]));

test('a train stage runs under the engine with two worker threads', async (t) => {
  const dir = tmp('attrib-train-cli-');
  const runs = join(dir, 'runs');
  const path = writeConfig(dir, config(3));
  const r = await attrib(['run', path, '--runs', runs, '--jobs', '2']);
  t.is(r.code, 0, r.stderr);
  const run = runJson(runs, 'train-cli');
  t.like(run.models.metrics, { models: 6, masks: 3, seeds: 2 });
  t.true((run.models.metrics.testAccuracy as number) > 0.8, JSON.stringify(run.models.metrics));
  t.deepEqual(readNpyHeader(join(entry(runs, run.models.hash), MODELS.marginsTest)).shape, [6, 100]);
  t.deepEqual(trainedIn(r.stderr + r.stdout).sort(), [0, 1, 2, 3, 4, 5]);
});

test('a killed train stage resumes at the next unfinished model', async (t) => {
  const dir = tmp('attrib-train-kill-');
  const runs = join(dir, 'runs');
  const path = writeConfig(dir, config(30));
  const first = start(['run', path, '--runs', runs, '--jobs', '1']);
  // Kill once two models are finished (the plan tells the stage's hash).
  const plan = await attrib(['plan', path, '--runs', runs]);
  const hash = /models\s+train\s+([0-9a-f]{12,})/.exec(plan.stdout)?.[1];
  t.truthy(hash, plan.stdout);
  const storeHash = () => (existsSync(join(runs, 'store')) ? readdirSync(join(runs, 'store')).find((h) => h.startsWith(hash!)) : undefined);
  for (let i = 0; i < 2400; i++) {
    await sleep(50);
    const h = storeHash();
    if (h && finishedUnits(runs, h) >= 2) break;
  }
  first.child.kill('SIGKILL');
  await first.done;
  const units = join(entry(runs, storeHash()!), 'units');
  const finished = readdirSync(units).filter((u) => existsSync(join(units, u, 'unit.json'))).map(Number);
  t.true(finished.length >= 2 && finished.length < 6, `finished ${finished.length} of 6 before the kill`);
  const second = await attrib(['run', path, '--runs', runs, '--jobs', '1']);
  t.is(second.code, 0, second.stderr);
  const retrained = trainedIn(second.stderr + second.stdout);
  t.deepEqual(retrained.filter((m) => finished.includes(m)), [], 'finished models are not trained again');
  t.deepEqual([...finished, ...retrained].sort(), [0, 1, 2, 3, 4, 5], 'each unfinished model trained once');
  t.is(runJson(runs, 'train-cli').models.metrics.models, 6);
});
