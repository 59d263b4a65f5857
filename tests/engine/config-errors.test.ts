/**
 * The text of each config error, through the real CLI: file:line, YAML path, what was
 * expected and what was found; all problems at once; exit code 2; no stack trace.
 */
import { join } from 'node:path';
import test from 'ava';
import { attrib, tmp, writeConfig } from './helpers.ts';

async function validate(text: string, extra: string[] = [], files: Record<string, string> = {}) {
  const dir = tmp();
  for (const [name, content] of Object.entries(files)) writeConfig(dir, content, name);
  writeConfig(dir, text);
  // Run from the config's folder so messages name it as `config.yaml`.
  return attrib(['validate', 'config.yaml', ...extra], { cwd: dir });
}

function noStack(t: { false(v: boolean, m?: string): void }, stderr: string) {
  t.false(/^\s+at /m.test(stderr), `no stack trace:\n${stderr}`);
}

test('every kind of mistake in one config: one line each, in file order, exit 2', async (t) => {
  const r = await validate(`name: toy
seed: -1
backend: gpu
plugins: [PLUGIN]
colour: blue
defaults:
  p: &p {sleepMs: fast}
stages:
  data:    {kind: numbers, params: {n: 6, nn: 3}}
  squares: {kind: square, inputs: {data: dta}, params: *p}
  wrong:   {kind: square, inputs: {data: total}}
  total:   {kind: total, inputs: {squares: squares, bogus: data}}
  t2:      {kind: totl}
  a:       {kind: square, inputs: {data: b}}
  b:       {kind: square, inputs: {data: a}, prams: {}}
  c:       {kind: total}
`);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  noStack(t, r.stderr);
  t.deepEqual(r.stderr.trim().split('\n'), [
    'config.yaml:2 seed: expected a number >= 0, got -1',
    'config.yaml:3 backend: expected "auto" | "wasm" | "cpu" | "tensorflow" | "tensorflow-gpu", got "gpu"',
    'config.yaml:5 colour: unknown key "colour" (expected one of: name, seed, backend, defaults, plugins, executor, stages, sweep)',
    'config.yaml:7 stages.squares.params.sleepMs: expected a number, got "fast" (through the alias on line 10)',
    'config.yaml:9 stages.data.params.nn: unknown key "nn"; did you mean "n"?',
    'config.yaml:10 stages.squares.inputs.data: no stage named "dta"; did you mean "data"?',
    'config.yaml:11 stages.wrong.inputs.data: expected an artifact of kind numbers, got "total" (a total stage, which produces total)',
    'config.yaml:12 stages.total.inputs.bogus: stage kind "total" has no input "bogus" (it takes: squares, extra)',
    'config.yaml:13 stages.t2.kind: unknown stage kind "totl"; did you mean "total"?',
    'config.yaml:14 stages.a.inputs.data: expected an artifact of kind numbers, got "b" (a square stage, which produces squares)',
    'config.yaml:14 stages.a.inputs.data: cycle: a -> b -> a',
    'config.yaml:15 stages.b.prams: unknown key "prams"; did you mean "params"?',
    'config.yaml:15 stages.b.inputs.data: expected an artifact of kind numbers, got "a" (a square stage, which produces squares)',
    'config.yaml:16 stages.c: missing input "squares" (stage kind "total" needs an artifact of kind squares)',
  ]);
});

test('a cycle through three stages prints the cycle', async (t) => {
  const r = await validate(`name: toy
plugins: [PLUGIN]
stages:
  data: {kind: numbers}
  x: {kind: total, inputs: {squares: z}}
  y: {kind: square, inputs: {data: data}}
  z: {kind: square, inputs: {data: data}}
`);
  t.is(r.code, 0, r.stderr);
  const cyc = await validate(`name: toy
plugins: [PLUGIN]
stages:
  p: {kind: numbers}
  q: {kind: total, inputs: {squares: r, extra: s}}
  r: {kind: square, inputs: {data: s}}
  s: {kind: numbers}
`);
  t.is(cyc.code, 0, cyc.stderr);
  const loop = await validate(`name: toy
plugins: [PLUGIN]
stages:
  u: {kind: total, inputs: {squares: v}}
  v: {kind: square, inputs: {data: w}}
  w: {kind: total, inputs: {squares: v}}
`);
  t.is(loop.code, 2);
  t.true(loop.stderr.includes('config.yaml:5 stages.v.inputs.data: cycle: v -> w -> v'), loop.stderr);
});

test('names that could leave runs/ are rejected', async (t) => {
  const r = await validate(`name: ../evil
plugins: [PLUGIN]
stages:
  ../up: {kind: numbers}
`);
  t.is(r.code, 2);
  t.deepEqual(r.stderr.trim().split('\n'), [
    'config.yaml:1 name: expected text matching /^[a-z0-9_-]+$/, got "../evil"',
    'config.yaml:4 stages.../up: stage name "../up" must match [a-z0-9_-]+',
  ]);
});

test('YAML syntax errors name the line', async (t) => {
  const r = await validate('name: toy\nstages:\n  data: {kind: numbers\n  x: 1\n');
  t.is(r.code, 2);
  noStack(t, r.stderr);
  t.regex(r.stderr, /^config\.yaml:4: invalid YAML: Flow map/);
});

test('a missing config file is exit 2 with one line', async (t) => {
  const r = await attrib(['validate', join(tmp(), 'nope.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stderr.trim(), /nope\.yaml: no such file$/);
});

test('plugin errors are reported like config errors', async (t) => {
  // A researcher's plugin lives in their own ESM project.
  const twice = await validate(`name: toy\nplugins: [PLUGIN, ./again.ts]\nstages:\n  data: {kind: numbers}\n`, [], {
    'package.json': '{"type": "module"}',
    'again.ts': `import { numbers } from 'PLUGIN';\nexport default (registry: any) => registry.registerStage(numbers);\n`,
  });
  t.is(twice.code, 2);
  noStack(t, twice.stderr);
  t.is(twice.stderr.trim(), 'config.yaml:2 plugins.1: plugin ./again.ts: stage kind "numbers" is registered twice');

  const missing = await validate(`name: toy\nplugins:\n  - ./nowhere.ts\nstages:\n  data: {kind: numbers}\n`);
  t.is(missing.code, 2);
  t.is(missing.stderr.trim(), 'config.yaml:3 plugins.0: plugin ./nowhere.ts: no such file');

  const bad = await validate(`name: toy\nplugins: [./bad.ts]\nstages:\n  data: {kind: numbers}\n`, [], {
    'package.json': '{"type": "module"}',
    'bad.ts': `export default (registry: any) => registry.registerStage({ name: 'Bad Kind', run() {} });\n`,
  });
  t.is(bad.code, 2);
  t.regex(bad.stderr.trim(), /^config\.yaml:2 plugins\.0: plugin \.\/bad\.ts: stage kind name "Bad Kind" must match/);
});

test('bad command-line arguments are exit 2; --help is exit 0', async (t) => {
  const help = await attrib(['run', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--jobs <n>/);
  t.is((await attrib(['frobnicate'])).code, 2);
  t.is((await attrib(['run', 'x.yaml', '--jobs', 'zero'])).code, 2);
  const unit = await attrib(['unit', 'not-a-hash', '0', '--runs', tmp()]);
  t.is(unit.code, 2);
  t.regex(unit.stderr, /"not-a-hash" is not a stage hash/);
});
