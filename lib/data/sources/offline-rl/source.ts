/**
 * `offline-rl`: a logged data set for behavior cloning, from K behavior policies of
 * different quality acting in a small gridworld (gridworld.ts, policies.ts).
 *
 *   train: every logged transition (s, a) of every behavior policy: x = features(s),
 *          y = a (classes = actions up/right/down/left), group = the policy that acted
 *          (written as group_train.npy, so `subsets` knobs can weight the policies)
 *   test:  the evaluation states (every floor cell, row-major, or the listed cells),
 *          labelled with the optimal action argmax_a Q*(s, a)
 *
 * A `train` stage on this data set is behavior cloning (logreg or mlp over the state
 * features), and its margin at a test state is the cloned policy's action margin for
 * the optimal action: f = logit_{a*} − logsumexp_{a≠a*} logit_a.
 *
 * Logging: each policy, from its own stream Rng('offline-rl', seed, name), runs
 * episodes from uniformly random floor cells until a terminal cell or `horizon` steps,
 * until it has logged `transitions` (s, a) pairs (the last episode is cut there).
 *
 * Features of a state at (r, c): rowcol = one-hot r ⊕ one-hot c (shared across cells,
 * so data at one state moves decisions at others in its row and column); cell = one-hot
 * of the floor cell (tabular); cell+rowcol both.
 */
import { z } from 'zod';
import { Rng } from '../../../random/rng.ts';
import { DataSourceError, type DataSource, type LoadedSource } from '../../source.ts';
import { ACTIONS, greedyAction, parseMap, solveQ, type Grid } from './gridworld.ts';
import { act, behaviorQuality, makeBehavior, policySpec, transition, type PolicySpec } from './policies.ts';

/**
 * 6 × 9: the goal in the middle, walled on three sides, a pit beside it. The optimal
 * action is right on the left side, left on the right side, up below and down above,
 * so each behavior policy agrees with it somewhere and disagrees elsewhere.
 */
export const DEFAULT_MAP = ['.........', '..#...X..', '..#..G#..', '..#......', '....##...', '.........'];

export const DEFAULT_POLICIES: PolicySpec[] = [
  { name: 'expert', kind: 'greedy', epsilon: 0.1 },
  { name: 'other-goal', kind: 'greedy', epsilon: 0.1, goal: [5, 0] },
  { name: 'drift-right', kind: 'direction', action: 'right', p: 0.6 },
  { name: 'random', kind: 'random' },
];

export const offlineRlOptions = z
  .strictObject({
    kind: z.literal('offline-rl'),
    map: z.array(z.string().min(1)).min(1).default(DEFAULT_MAP).describe("rows of '.' floor, '#' wall, 'G' goal (+1), 'X' pit (−1)"),
    gamma: z.number().gt(0).lt(1).default(0.95).describe('discount of Q* (the optimal-action labels and greedy policies)'),
    slip: z.number().min(0).lt(1).default(0).describe('probability that the executed action is uniformly random'),
    stepReward: z.number().default(0).describe('reward for entering a floor cell'),
    policies: z.array(policySpec).min(1).default(DEFAULT_POLICIES).describe('behavior policies; each one is a group of the train split'),
    transitions: z.number().int().positive().default(400).describe('logged (s, a) pairs per behavior policy'),
    horizon: z.number().int().positive().default(30).describe('steps per episode at most'),
    features: z.enum(['rowcol', 'cell', 'cell+rowcol']).default('rowcol').describe('state features: one-hot row ⊕ one-hot column (rowcol), one-hot cell (cell, tabular), or both'),
    evalStates: z
      .union([z.literal('all'), z.array(z.array(z.number().int().nonnegative()).length(2)).min(1)])
      .default('all')
      .describe("test states: 'all' floor cells (row-major) or [[row, col], ...]"),
    seed: z.number().int().default(0).describe('logging seed (not the experiment seed)'),
  })
  .superRefine((o, ctx) => {
    const names = o.policies.map((p) => p.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: ['policies', i, 'name'], message: `policy name "${n}" is used twice` });
    });
  });

export type OfflineRlOptions = z.infer<typeof offlineRlOptions>;

export interface OfflineRlWorld {
  grid: Grid;
  /** Q* [cells × 4] of the map. */
  q: Float64Array;
  /** The test states (cells), in test-row order. */
  evalCells: number[];
  featureNames: string[];
  features(s: number): Float32Array;
}

export function offlineRlWorld(o: OfflineRlOptions): OfflineRlWorld {
  const grid = parseMap(o.map, o.stepReward);
  const q = solveQ(grid, o.gamma, o.slip);
  const floorIndex = new Map(grid.states.map((s, j) => [s, j]));
  const evalCells =
    o.evalStates === 'all'
      ? grid.states
      : o.evalStates.map(([r, c]) => {
          const s = r * grid.cols + c;
          if (r >= grid.rows || c >= grid.cols || !floorIndex.has(s)) throw new DataSourceError(`source offline-rl: evalStates [${r}, ${c}] is not a floor cell of the map`);
          return s;
        });
  const rowcol = o.features !== 'cell';
  const cell = o.features !== 'rowcol';
  const featureNames = [
    ...(rowcol ? [...Array.from({ length: grid.rows }, (_, r) => `row${r}`), ...Array.from({ length: grid.cols }, (_, c) => `col${c}`)] : []),
    ...(cell ? grid.states.map((s) => `cell${Math.floor(s / grid.cols)}_${s % grid.cols}`) : []),
  ];
  const features = (s: number) => {
    const x = new Float32Array(featureNames.length);
    let at = 0;
    if (rowcol) {
      x[Math.floor(s / grid.cols)] = 1;
      x[grid.rows + (s % grid.cols)] = 1;
      at = grid.rows + grid.cols;
    }
    if (cell) x[at + floorIndex.get(s)!] = 1;
    return x;
  };
  return { grid, q, evalCells, featureNames, features };
}

export function makeOfflineRl(o: OfflineRlOptions): LoadedSource {
  const world = offlineRlWorld(o);
  const { grid, q, featureNames } = world;
  const F = featureNames.length;
  const n = o.transitions * o.policies.length;
  const x = new Float32Array(n * F);
  const y = new Int32Array(n);
  const group = new Int32Array(n);
  let row = 0;
  o.policies.forEach((spec, b) => {
    const behavior = makeBehavior(spec, grid, q, o.gamma, o.slip, o.stepReward);
    const rng = Rng.from('offline-rl', o.seed, spec.name);
    let logged = 0;
    while (logged < o.transitions) {
      let s = grid.states[rng.int(grid.states.length)];
      for (let t = 0; t < o.horizon && logged < o.transitions; t++) {
        const a = act(behavior, s, rng);
        x.set(world.features(s), row * F);
        y[row] = a;
        group[row] = b;
        row++;
        logged++;
        const next = transition(grid, s, a, o.slip, rng);
        if (grid.terminal[next]) break;
        s = next;
      }
    }
  });
  const m = world.evalCells.length;
  const xt = new Float32Array(m * F);
  const yt = new Int32Array(m);
  world.evalCells.forEach((s, j) => {
    xt.set(world.features(s), j * F);
    yt[j] = greedyAction(q, s);
  });
  return {
    featureShape: [F],
    classes: 4,
    classNames: [...ACTIONS],
    featureNames,
    image: false,
    train: { x, y, group, n },
    test: { x: xt, y: yt, group: new Int32Array(m).fill(-1), n: m },
    groups: { name: 'policy', names: o.policies.map((p) => p.name) },
  };
}

/** Each behavior policy's exact quality, and the optimal policy's, for docs and reports. */
export function describeOfflineRl(o: OfflineRlOptions): { name: string; value: number; optimalAction: number }[] {
  const { grid, q } = offlineRlWorld(o);
  const rows = o.policies.map((spec) => ({ name: spec.name, ...behaviorQuality(makeBehavior(spec, grid, q, o.gamma, o.slip, o.stepReward), grid, q, o.gamma, o.slip) }));
  const optimal = makeBehavior({ name: 'optimal', kind: 'greedy', epsilon: 0 }, grid, q, o.gamma, o.slip, o.stepReward);
  return [...rows, { name: 'optimal', ...behaviorQuality(optimal, grid, q, o.gamma, o.slip) }];
}

export const offlineRl: DataSource<OfflineRlOptions> = {
  name: 'offline-rl',
  description: 'behavior cloning data: K behavior policies log (state, action) in a gridworld; test = states labelled with the optimal action; groups = policies',
  options: offlineRlOptions,
  load: (o) => makeOfflineRl(o),
};
