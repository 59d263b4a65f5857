/**
 * A small gridworld for offline-RL examples, solved exactly by value iteration.
 *
 * Map characters: '.' floor, '#' wall, 'G' goal (reward +1, episode ends), 'X' pit
 * (reward −1, episode ends). Actions 0..3 = up, right, down, left; a move into a wall or
 * off the map stays put. With probability `slip` the executed action is uniform over
 * the four instead of the chosen one. Entering a floor cell pays `stepReward`.
 *
 *   Q*(s, a) = Σ_{s'} P(s' | s, a) [ r(s') + γ · 1[s' not terminal] · max_{a'} Q*(s', a') ]
 *
 * iterated to a fixed point (max change < 1e-12). Ties between actions break towards
 * the lower action index everywhere (greedy policies and the optimal-action labels
 * alike), so a behavior policy and the evaluation labels agree on what "optimal" means.
 */
import { DataSourceError } from '../../source.ts';

export const ACTIONS = ['up', 'right', 'down', 'left'] as const;
export type ActionName = (typeof ACTIONS)[number];
const MOVES: [number, number][] = [
  [-1, 0],
  [0, 1],
  [1, 0],
  [0, -1],
];

export interface Grid {
  rows: number;
  cols: number;
  /** One character per cell, row-major. */
  cells: string[];
  /** Reward of entering each cell and whether it ends the episode. */
  reward: Float64Array;
  terminal: Uint8Array;
  /** Cells an agent can stand on and act from (floor, not terminal), row-major. */
  states: number[];
}

export function parseMap(lines: string[], stepReward: number): Grid {
  const rows = lines.length;
  const cols = lines[0].length;
  const cells: string[] = [];
  lines.forEach((line, r) => {
    if (line.length !== cols) throw new DataSourceError(`source offline-rl: map row ${r} has ${line.length} cells, row 0 has ${cols}`);
    for (const ch of line) {
      if (!'.#GX'.includes(ch)) throw new DataSourceError(`source offline-rl: map row ${r} has "${ch}", expected . # G or X`);
      cells.push(ch);
    }
  });
  const reward = Float64Array.from(cells, (ch) => (ch === 'G' ? 1 : ch === 'X' ? -1 : stepReward));
  const terminal = Uint8Array.from(cells, (ch) => (ch === 'G' || ch === 'X' ? 1 : 0));
  const states = cells.flatMap((ch, s) => (ch === '.' ? [s] : []));
  if (!cells.includes('G')) throw new DataSourceError('source offline-rl: the map has no goal (G)');
  if (states.length === 0) throw new DataSourceError('source offline-rl: the map has no floor cell to start from');
  return { rows, cols, cells, reward, terminal, states };
}

/** The cell a deterministic move of `action` from `s` lands in. */
export function move(grid: Grid, s: number, action: number): number {
  const r = Math.floor(s / grid.cols) + MOVES[action][0];
  const c = (s % grid.cols) + MOVES[action][1];
  if (r < 0 || r >= grid.rows || c < 0 || c >= grid.cols) return s;
  const t = r * grid.cols + c;
  return grid.cells[t] === '#' ? s : t;
}

/** Q* [cells × 4] by value iteration (rows of walls and terminals stay 0). */
export function solveQ(grid: Grid, gamma: number, slip: number): Float64Array {
  const n = grid.cells.length;
  const q = new Float64Array(n * 4);
  const v = new Float64Array(n);
  const backup = (s: number, a: number) => {
    const t = move(grid, s, a);
    return grid.reward[t] + (grid.terminal[t] ? 0 : gamma * v[t]);
  };
  for (let iter = 0; iter < 100000; iter++) {
    let change = 0;
    for (const s of grid.states) {
      const det = [0, 1, 2, 3].map((a) => backup(s, a));
      const mean = (det[0] + det[1] + det[2] + det[3]) / 4;
      for (let a = 0; a < 4; a++) q[s * 4 + a] = (1 - slip) * det[a] + slip * mean;
    }
    for (const s of grid.states) {
      const best = Math.max(q[s * 4], q[s * 4 + 1], q[s * 4 + 2], q[s * 4 + 3]);
      change = Math.max(change, Math.abs(best - v[s]));
      v[s] = best;
    }
    if (change < 1e-12) return q;
  }
  throw new DataSourceError('source offline-rl: value iteration did not converge (gamma too close to 1?)');
}

/** argmax_a Q(s, a), ties to the lower action index. */
export function greedyAction(q: Float64Array, s: number): number {
  let best = 0;
  for (let a = 1; a < 4; a++) if (q[s * 4 + a] > q[s * 4 + best] + 1e-12) best = a;
  return best;
}

/** The same map with every goal turned to floor and `goal` (row, col) made the only goal. */
export function withGoal(grid: Grid, goal: number[], stepReward: number): Grid {
  const [r, c] = goal;
  if (r < 0 || r >= grid.rows || c < 0 || c >= grid.cols) throw new DataSourceError(`source offline-rl: goal [${r}, ${c}] is off the ${grid.rows}×${grid.cols} map`);
  const t = r * grid.cols + c;
  if (grid.cells[t] === '#') throw new DataSourceError(`source offline-rl: goal [${r}, ${c}] is a wall`);
  const lines: string[] = [];
  for (let row = 0; row < grid.rows; row++) {
    let line = '';
    for (let col = 0; col < grid.cols; col++) {
      const ch = grid.cells[row * grid.cols + col];
      line += row * grid.cols + col === t ? 'G' : ch === 'G' ? '.' : ch;
    }
    lines.push(line);
  }
  return parseMap(lines, stepReward);
}
