/**
 * Behavior policies that log the offline data set, each a distribution π_b(a | s):
 *
 *   greedy:    ε-greedy on Q* (of the map's goal, or of another `goal` cell):
 *              π(a|s) = ε/4 + (1 − ε)·1[a = argmax Q(s, ·)]
 *   direction: one favourite action: π(a|s) = p·1[a = action] + (1 − p)/4
 *   random:    π(a|s) = 1/4
 *
 * Their quality is measured exactly: V^π from uniform start states by iterative policy
 * evaluation, and the probability of choosing the optimal action.
 */
import { z } from 'zod';
import type { Rng } from '../../../random/rng.ts';
import { ACTIONS, greedyAction, move, solveQ, withGoal, type Grid } from './gridworld.ts';

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ or -').describe('names the group of its transitions');
const cell = z.array(z.number().int().nonnegative()).length(2);

export const policySpec = z.discriminatedUnion('kind', [
  z.strictObject({
    name,
    kind: z.literal('greedy'),
    epsilon: z.number().min(0).max(1).default(0.1).describe('probability of a uniformly random action'),
    goal: cell.optional().describe('[row, col] it heads for instead of the map\'s goal'),
  }),
  z.strictObject({
    name,
    kind: z.literal('direction'),
    action: z.enum(ACTIONS),
    p: z.number().min(0).max(1).default(0.6).describe('probability of the favourite action (else uniform)'),
  }),
  z.strictObject({ name, kind: z.literal('random') }),
]);
export type PolicySpec = z.infer<typeof policySpec>;

export interface Behavior {
  name: string;
  /** π(· | s) as 4 probabilities. */
  probs(s: number): Float64Array;
}

export function makeBehavior(spec: PolicySpec, grid: Grid, q: Float64Array, gamma: number, slip: number, stepReward: number): Behavior {
  switch (spec.kind) {
    case 'random':
      return { name: spec.name, probs: () => new Float64Array(4).fill(0.25) };
    case 'direction': {
      const fav = ACTIONS.indexOf(spec.action);
      return {
        name: spec.name,
        probs: () => Float64Array.from({ length: 4 }, (_, a) => (1 - spec.p) / 4 + (a === fav ? spec.p : 0)),
      };
    }
    case 'greedy': {
      const own = spec.goal ? solveQ(withGoal(grid, spec.goal, stepReward), gamma, slip) : q;
      return {
        name: spec.name,
        probs: (s) => Float64Array.from({ length: 4 }, (_, a) => spec.epsilon / 4 + (a === greedyAction(own, s) ? 1 - spec.epsilon : 0)),
      };
    }
  }
}

/** An action drawn from π(· | s). */
export function act(behavior: Behavior, s: number, rng: Rng): number {
  const p = behavior.probs(s);
  let u = rng.uniform();
  for (let a = 0; a < 3; a++) {
    if (u < p[a]) return a;
    u -= p[a];
  }
  return 3;
}

/** The environment's next cell after executing `a` in `s` (with slip). */
export function transition(grid: Grid, s: number, a: number, slip: number, rng: Rng): number {
  const executed = slip > 0 && rng.uniform() < slip ? rng.int(4) : a;
  return move(grid, s, executed);
}

/**
 * Exact quality of a behavior: the mean of V^π over start states (uniform over the
 * floor cells) and the mean probability it gives the optimal action there.
 */
export function behaviorQuality(behavior: Behavior, grid: Grid, q: Float64Array, gamma: number, slip: number): { value: number; optimalAction: number } {
  const v = new Float64Array(grid.cells.length);
  for (let iter = 0; iter < 100000; iter++) {
    let change = 0;
    for (const s of grid.states) {
      const p = behavior.probs(s);
      const det = [0, 1, 2, 3].map((a) => {
        const t = move(grid, s, a);
        return grid.reward[t] + (grid.terminal[t] ? 0 : gamma * v[t]);
      });
      const mean = (det[0] + det[1] + det[2] + det[3]) / 4;
      let next = 0;
      for (let a = 0; a < 4; a++) next += p[a] * ((1 - slip) * det[a] + slip * mean);
      change = Math.max(change, Math.abs(next - v[s]));
      v[s] = next;
    }
    if (change < 1e-12) break;
  }
  let value = 0;
  let optimalAction = 0;
  for (const s of grid.states) {
    value += v[s];
    optimalAction += behavior.probs(s)[greedyAction(q, s)];
  }
  return { value: value / grid.states.length, optimalAction: optimalAction / grid.states.length };
}
