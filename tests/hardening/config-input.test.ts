/**
 * Hostile configs (issue 16): each is refused with one located line and exit code 2, or
 * works as written; nothing is dropped silently, nothing crashes. Run in-process through
 * main() (tests/hardening/inprocess.ts); the fuzz test spawns the real executable.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { tmp } from '../helpers/rig.ts';
import { PLUGIN } from '../engine/helpers.ts';
import { attribInProcess, stackFree } from './inprocess.ts';

async function validate(text: string, extra: string[] = []) {
  const dir = tmp();
  writeFileSync(join(dir, 'config.yaml'), text.replaceAll('PLUGIN', PLUGIN));
  const r = await attribInProcess(['validate', join(dir, 'config.yaml'), ...extra], dir);
  return { ...r, lines: r.stderr.trim().split('\n') };
}

const TOY = `name: toy\nplugins: [PLUGIN]\nstages:\n  data: {kind: numbers}\n`;

test('a stage named __proto__ is refused, not dropped', async (t) => {
  const r = await validate(`${TOY}  __proto__: {kind: numbers}\n`);
  t.is(r.code, 2);
  t.deepEqual(r.lines, ['config.yaml:5 stages.__proto__: stage name "__proto__" is reserved (it cannot be a key in run.json); choose another']);
});

test('--set and sweeps into a stage that does not exist, such as __proto__ or toString, say so', async (t) => {
  const set = await validate(TOY, ['--set', 'stages.__proto__.params.n=1']);
  t.is(set.code, 2);
  t.deepEqual(set.lines, ['--set stages.__proto__.params.n=1: no stage named "__proto__"']);
  const inherited = await validate(TOY, ['--set', 'stages.toString.params.n=1']);
  t.deepEqual(inherited.lines, ['--set stages.toString.params.n=1: no stage named "toString"']);
  const sweep = await validate(`${TOY}sweep:\n  grid:\n    stages.constructor.params.n: [1, 2]\n`);
  t.is(sweep.code, 2);
  t.deepEqual(sweep.lines, ['config.yaml:7 sweep.grid.stages.constructor.params.n: no stage named "constructor"']);
});

test('user keys never reach Object.prototype: inputs, params, kinds', async (t) => {
  const r = await validate(`${TOY}  sq: {kind: square, inputs: {data: toString}}
  sum: {kind: total, inputs: {squares: sq, constructor: sq}}
  odd: {kind: numbers, params: {__proto__: {n: 3}}}
`);
  t.is(r.code, 2);
  t.deepEqual(r.lines, [
    'config.yaml:5 stages.sq.inputs.data: no stage named "toString"',
    'config.yaml:6 stages.sum.inputs.constructor: stage kind "total" has no input "constructor" (it takes: squares, extra)',
    'config.yaml:7 stages.odd.params.__proto__: unknown key "__proto__" (expected one of: n, start)',
  ]);
  // Stage names that are Object.prototype members otherwise work like any name.
  const ok = await validate(`${TOY}  constructor: {kind: square, inputs: {data: data}}\n  tostring: {kind: total, inputs: {squares: constructor}}\n`);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /ok \(1 experiment\(s\), 3 stages each\)/);
});

test('YAML alias problems are located errors, exit 2', async (t) => {
  const missing = await validate(`name: toy\nstages:\n  data: *nope\n`);
  t.is(missing.code, 2);
  t.deepEqual(missing.lines, ['config.yaml:3: invalid YAML: alias *nope names no anchor (an &nope must come before it)']);

  const merge = await validate(`${TOY}  more: {<<: 5, kind: numbers}\n`);
  t.is(merge.code, 2);
  t.deepEqual(merge.lines, ['config.yaml:5: invalid YAML: the merge key << takes a mapping or a list of mappings, got 5']);

  const laughs = ['name: toy', 'a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= 9; i++) laughs.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  const bomb = await validate(`${laughs.join('\n')}\nstages: {}\n`);
  t.is(bomb.code, 2);
  t.true(stackFree(bomb), bomb.stderr);
  t.regex(bomb.stderr, /^config\.yaml:\d+: invalid YAML: alias \*a\d expands to too many nodes \(a "billion laughs" pattern\); attrib refuses it\n$/);
});

test('misleading messages name what was found: .nan, a source shorthand, deep nesting', async (t) => {
  const r = await validate(`name: toy
stages:
  data: {kind: dataset, params: {source: imagenet, train: 10, test: 10}}
  masks: {kind: subsets, inputs: {data: data}, params: {count: 4, alpha: .nan}}
`);
  t.is(r.code, 2);
  t.deepEqual(r.lines, [
    'config.yaml:3 stages.data.params.source.kind: expected "mnist" | "mnist-full" | "fashion-mnist" | "iris" | "synthetic" | "csv" | "npy" | "offline-rl", got "imagenet"',
    'config.yaml:4 stages.masks.params.alpha: expected a number, got NaN',
  ]);
  const deep = await validate(`name: toy\nstages: {data: {kind: numbers, params: {n: ${'['.repeat(20000)}${']'.repeat(20000)}}}}\n`);
  t.is(deep.code, 2);
  t.deepEqual(deep.lines, ['config.yaml:2: invalid YAML: brackets nested more than 256 levels deep; no config needs that']);
  // Brackets inside quotes and comments do not count.
  const quoted = await validate(`${TOY}# ${'['.repeat(300)}\n  q: {kind: numbers, params: {n: 2}} # "${'{'.repeat(300)}"\n`);
  t.is(quoted.code, 0, quoted.stderr);
});

test('a sweep is counted before it is expanded: above sweep.maxPoints it is refused with its size', async (t) => {
  const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
  const grid = `${TOY}sweep:\n  grid:\n    stages.data.params.n: ${list(200)}\n    stages.data.params.start: ${list(200)}\n`;
  const big = await validate(grid);
  t.is(big.code, 2);
  t.deepEqual(big.lines, ['config.yaml:5 sweep: the sweep has 40000 points (200 x 200), more than sweep.maxPoints (1000); set sweep.maxPoints: 40000 to expand them all']);
  // Zip rows multiply the grid.
  const zipped = await validate(`${TOY}sweep:\n  maxPoints: 5\n  grid: {stages.data.params.n: [1, 2]}\n  zip: {stages.data.params.start: [1, 2, 3]}\n`);
  t.deepEqual(zipped.lines, ['config.yaml:5 sweep: the sweep has 6 points (2 x 3), more than sweep.maxPoints (5); set sweep.maxPoints: 6 to expand them all']);
  const raised = await validate(`${TOY}sweep:\n  maxPoints: 6\n  grid: {stages.data.params.n: [1, 2]}\n  zip: {stages.data.params.start: [1, 2, 3]}\n`);
  t.is(raised.code, 0, raised.stderr);
  t.regex(raised.stdout, /ok \(6 experiment\(s\)/);
  const bad = await validate(`${TOY}sweep:\n  maxPoints: many\n  grid: {stages.data.params.n: [1, 2]}\n`);
  t.deepEqual(bad.lines, ['config.yaml:6 sweep.maxPoints: expected a positive integer, got "many"']);
});

test('projector.dim is bounded at validation (a dim of 1e11 is not a sketch size)', async (t) => {
  const r = await validate(`name: big
stages:
  data: {kind: dataset, params: {source: iris, train: 100, test: 50}}
  masks: {kind: subsets, inputs: {data: data}, params: {count: 2, alpha: 0.5}}
  models: {kind: train, inputs: {data: data, masks: masks}, params: {model: {kind: logreg}}}
  features: {kind: linearize, inputs: {models: models}, params: {projector: {kind: gaussian, dim: 100000000000}}}
`);
  t.is(r.code, 2);
  t.deepEqual(
    r.lines.filter((l) => l.includes('projector')),
    ['config.yaml:6 stages.features.params.projector.dim: expected at most 1048576 (the projected dimension k; TRAK uses 512..20480), got 100000000000'],
  );
});
