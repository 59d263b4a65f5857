// The Spearman that lds uses (lib/linalg), against scipy on tied data.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { rankAverage, spearman } from '../../lib/linalg/index.ts';

interface Case { x: number[]; y: number[]; rx: number[]; spearman: number }
const cases = JSON.parse(readFileSync(new URL('../fixtures/evaluation/spearman.json', import.meta.url), 'utf8')) as Case[];

test('average ranks and Spearman with ties match scipy', (t) => {
  for (const c of cases) {
    t.deepEqual(Array.from(rankAverage(c.x)), c.rx);
    t.true(Math.abs(spearman(c.x, c.y) - c.spearman) < 1e-12, `${spearman(c.x, c.y)} vs scipy ${c.spearman}`);
  }
});

test('Spearman is 1 for any increasing map and NaN for a constant vector', (t) => {
  const x = [0.3, -2, 5, 1, 1];
  t.is(spearman(x, x.map((v) => Math.exp(v))), 1);
  t.is(spearman(x, x.map((v) => -v * v * v)), -1);
  t.true(Number.isNaN(spearman(x, [2, 2, 2, 2, 2])));
});
