/**
 * The offline-RL example: the gridworld and its behavior policies, the logged data set
 * (groups = policies, test = optimal actions), and a tiny version of
 * configs/offline-rl.yaml end to end through the CLI.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET, KNOBS } from '../../lib/artifacts.ts';
import { dataset } from '../../stages/dataset.ts';
import { ACTIONS, greedyAction, parseMap, solveQ, withGoal } from '../../lib/data/sources/offline-rl/gridworld.ts';
import { describeOfflineRl, makeOfflineRl, offlineRlOptions, offlineRlWorld } from '../../lib/data/sources/offline-rl/source.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { attrib, entry, runJson, tmp } from '../engine/helpers.ts';
import { runStage } from '../helpers/run-stage.ts';

const options = (o: object = {}) => offlineRlOptions.parse({ kind: 'offline-rl', ...o });
const cell = (r: number, c: number) => r * 9 + c;
const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);

test('the default map: Q* sends every state towards the goal, around the walls and the pit', (t) => {
  const { grid, q } = offlineRlWorld(options());
  const best = (r: number, c: number) => ACTIONS[greedyAction(q, cell(r, c))];
  t.is(best(2, 4), 'right'); // beside the goal
  t.is(best(1, 5), 'down'); // above it
  t.is(best(3, 5), 'up'); // below it
  t.is(best(3, 6), 'left');
  t.is(best(1, 7), 'up'); // right of the pit: around through row 0
  t.is(best(2, 7), 'down'); // or around through row 3
  t.is(grid.states.length, 46);
  // Another goal: the bottom-left corner.
  const other = solveQ(withGoal(grid, [5, 0], 0), 0.95, 0);
  t.is(ACTIONS[greedyAction(other, cell(5, 1))], 'left');
  t.is(ACTIONS[greedyAction(other, cell(4, 0))], 'down');
});

test('behavior policies are ranked by their exact value; the random one picks the optimal action a quarter of the time', (t) => {
  const rows = Object.fromEntries(describeOfflineRl(options()).map((r) => [r.name, r]));
  t.true(rows.optimal.value >= rows.expert.value);
  for (const name of ['other-goal', 'drift-right', 'random']) t.true(rows.expert.value > rows[name].value + 0.3, `${name}: ${rows[name].value}`);
  t.is(rows.optimal.optimalAction, 1);
  t.true(Math.abs(rows.random.optimalAction - 0.25) < 1e-12);
  t.true(Math.abs(rows.expert.optimalAction - (0.9 + 0.1 / 4)) < 1e-12);
});

test('the logged data: transitions per policy as groups, row/column one-hot features, actions as labels, test = optimal actions', (t) => {
  const o = options({ transitions: 50 });
  const src = makeOfflineRl(o);
  const again = makeOfflineRl(o);
  t.deepEqual(src.train!.x, again.train!.x, 'logging is seeded');
  t.deepEqual(src.train!.y, again.train!.y);
  t.notDeepEqual(makeOfflineRl(options({ transitions: 50, seed: 1 })).train!.y, src.train!.y);
  t.is(src.train!.n, 200);
  t.deepEqual(Array.from(src.train!.group!.subarray(0, 50)), new Array(50).fill(0));
  t.deepEqual(Array.from(src.train!.group!.subarray(150)), new Array(50).fill(3));
  t.deepEqual(src.groups, { name: 'policy', names: ['expert', 'other-goal', 'drift-right', 'random'] });
  t.deepEqual(src.classNames, ['up', 'right', 'down', 'left']);
  t.deepEqual(src.featureShape, [15]);
  for (let i = 0; i < 200; i++) {
    const x = src.train!.x.subarray(i * 15, (i + 1) * 15);
    t.is(sum(x.subarray(0, 6)), 1, 'one row');
    t.is(sum(x.subarray(6)), 1, 'one column');
  }
  // The expert mostly takes the optimal action, the random policy about a quarter of the time.
  const { q } = offlineRlWorld(o);
  const agree = (from: number) => {
    let hits = 0;
    for (let i = from; i < from + 50; i++) {
      const x = src.train!.x.subarray(i * 15, (i + 1) * 15);
      const s = cell(x.indexOf(1), x.subarray(6).indexOf(1));
      hits += greedyAction(q, s) === src.train!.y[i] ? 1 : 0;
    }
    return hits / 50;
  };
  t.true(agree(0) > 0.8, `expert ${agree(0)}`);
  t.true(agree(150) < 0.5, `random ${agree(150)}`);
  t.is(src.test!.n, 46);
  const evalCells = offlineRlWorld(options({ evalStates: [[2, 4], [3, 5]] }));
  t.deepEqual(evalCells.evalCells, [cell(2, 4), cell(3, 5)]);
  t.deepEqual(Array.from(makeOfflineRl(options({ transitions: 5, evalStates: [[2, 4], [3, 5]] })).test!.y), [1, 0]);
});

test('cell features and bad maps', (t) => {
  const src = makeOfflineRl(options({ transitions: 5, features: 'cell+rowcol' }));
  t.deepEqual(src.featureShape, [15 + 46]);
  t.throws(() => parseMap(['...', '..'], 0), { message: /row 1 has 2 cells/ });
  t.throws(() => parseMap(['..a'], 0), { message: /expected \. # G or X/ });
  t.throws(() => parseMap(['...'], 0), { message: /no goal/ });
  t.throws(() => offlineRlWorld(options({ evalStates: [[1, 2]] })), { message: /not a floor cell/ });
  const r = offlineRlOptions.safeParse({ kind: 'offline-rl', policies: [{ name: 'a', kind: 'random' }, { name: 'a', kind: 'random' }] });
  t.false(r.success);
});

test('the dataset stage writes the behavior policy of every transition as its group column', async (t) => {
  const data = await runStage(dataset, { params: { source: { kind: 'offline-rl', transitions: 30 } } });
  const meta = JSON.parse(readFileSync(join(data.dir, DATASET.meta), 'utf8'));
  t.deepEqual(meta.groups, { name: 'policy', names: ['expert', 'other-goal', 'drift-right', 'random'] });
  t.is(meta.split, 'given');
  const groups = readNpy(join(data.dir, DATASET.groupTrain));
  t.is(groups.dtype, 'int32');
  t.deepEqual(Array.from(groups.data).filter((g) => g === 2).length, 30);
});

const CONFIG = `
name: knobs-e2e
seed: 0
defaults:
  bc: &bc
    model: {kind: logreg}
    fit: {epochs: 8, batchSize: 16, optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}}
  knobs: &knobs
    groups: {by: group}
    prior: {kind: dirichlet, concentration: 0.5}
    mode: mixture
    total: 60
stages:
  data:        {kind: dataset, params: {source: {kind: offline-rl, transitions: 40, policies: [{name: expert, kind: greedy}, {name: drift, kind: direction, action: right}], evalStates: [[2, 4], [1, 5], [3, 5], [3, 6], [0, 0], [5, 8]]}}}
  mixtures:    {kind: subsets, inputs: {data: data}, params: {count: 12, seed: 1, knobs: *knobs}}
  mix_models:  {kind: train, inputs: {data: data, masks: mixtures}, params: *bc}
  held:        {kind: subsets, inputs: {data: data}, params: {count: 8, seed: 2, knobs: *knobs}}
  held_models: {kind: train, inputs: {data: data, masks: held}, params: *bc}
  knobmodel:   {kind: knobmodel, inputs: {models: mix_models, heldout: held_models}, params: {folds: 3}}
  masks:       {kind: subsets, inputs: {data: data}, params: {count: 4}}
  models:      {kind: train, inputs: {data: data, masks: masks}, params: *bc}
  features:    {kind: linearize, inputs: {models: models}, params: {projector: {kind: identity}}}
  trak:        {kind: trak, inputs: {features: features}, params: {lambda: {relative: 0.1}}}
  knob_trak:   {kind: knob-predict, inputs: {scores: trak, models: held_models, knobmodel: knobmodel}}
`;

test('end to end through the CLI: behavior cloning on policy mixtures, knobmodel and knob-predict side by side', async (t) => {
  const dir = tmp('attrib-knobs-e2e-');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, CONFIG);
  const runs = join(dir, 'runs');
  const r = await attrib(['run', config, '--runs', runs, '--jobs', '2']);
  t.is(r.code, 0, r.stderr + r.stdout);
  const record = runJson(runs, 'knobs-e2e');
  const km = record.knobmodel.metrics;
  const kp = record.knob_trak.metrics;
  t.log(`knobmodel spearman ${km.spearman}, knob-predict(trak) ${kp.spearman}, realized ${kp.spearmanRealized}, slope agreement ${kp.slopeAgreement}`);
  for (const m of [km, kp]) {
    t.is(m.targets, 6);
    t.is(m.draws, 8);
    t.is(m.knobs, 2);
    t.true(Number.isFinite(m.spearman as number));
  }
  t.is(km.trainDraws, 12);
  t.true(Number.isFinite(kp.slopeAgreement as number));
  const meta = JSON.parse(readFileSync(join(entry(runs, record.knob_trak.hash), KNOBS.meta), 'utf8'));
  t.deepEqual(meta.knobNames, ['expert', 'drift']);
  t.true(meta.slopesCentered);
  // More expert data raises the margin of the optimal action at most states.
  const slopes = readNpy(join(entry(runs, record.knobmodel.hash), KNOBS.slopes)).data;
  const expertUp = [0, 1, 2, 3, 4, 5].filter((j) => slopes[j * 2] > 0).length;
  t.true(expertUp >= 4, `expert weight raises ${expertUp} of 6 margins`);
  t.regex(r.stdout + r.stderr, /mean slope ∂output\/∂θ per knob/);
});
