/**
 * dataset → subsets → train through the real CLI and engine (worker threads), and a
 * run killed with SIGKILL mid-stage (held by a test gate) that resumes without retraining
 * finished models.
 */
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS } from '../../lib/artifacts.ts';
import { readNpyHeader } from '../../lib/io/npy.ts';
import { attrib, entry, finishedUnits, runJson, start, tmp, writeConfig } from '../engine/helpers.ts';
import { Gate, GATE_PLUGIN, waitUntil } from '../helpers/rig.ts';

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
  // The real train kind behind a test gate (gated-train): the test lets two models finish
  // and kills the run while the third is running.
  const path = writeConfig(dir, config(3).replace('kind: train', 'kind: gated-train').replace('backend: wasm', `backend: wasm\nplugins: [${GATE_PLUGIN}]`));
  const gate = new Gate();
  const first = start(['run', path, '--runs', runs, '--jobs', '1'], { env: gate.env });
  const [a] = await gate.arrived(1);
  const { hash, pid } = a!;
  for (let k = 1; k <= 2; k++) {
    const next = (await gate.arrived(k, pid))[k - 1]!;
    gate.open(next.index);
    await waitUntil(`${k} models to finish`, () => finishedUnits(runs, hash) === k);
  }
  const running = (await gate.arrived(3, pid))[2]!;
  first.child.kill('SIGKILL');
  t.is((await first.done).signal, 'SIGKILL', 'the first run was killed, it did not finish');
  const units = join(entry(runs, hash), 'units');
  const finished = readdirSync(units).filter((u) => existsSync(join(units, u, 'unit.json'))).map(Number);
  t.is(finished.length, 2, `finished ${finished.length} of 6 before the kill`);
  t.false(finished.includes(running.index), 'killed while the third model was training');
  gate.openAll();
  const second = await attrib(['run', path, '--runs', runs, '--jobs', '1'], { env: gate.env });
  t.is(second.code, 0, second.stderr);
  const retrained = trainedIn(second.stderr + second.stdout);
  t.deepEqual(retrained.filter((m) => finished.includes(m)), [], 'finished models are not trained again');
  t.deepEqual([...finished, ...retrained].sort(), [0, 1, 2, 3, 4, 5], 'each unfinished model trained once');
  const rerun = gate.arrivals().filter((x) => x.pid !== pid).map((x) => x.index);
  t.deepEqual(rerun.sort((x, y) => x - y), [0, 1, 2, 3, 4, 5].filter((i) => !finished.includes(i)), 'the rerun ran exactly the unfinished units');
  t.is(runJson(runs, 'train-cli').models.metrics.models, 6);
});
