/**
 * The trust model (issue 16): a config's plugins are code, and `validate`, `plan` and
 * `dag` run them; `--no-plugins` inspects an untrusted config without running a line of
 * them. A .ts plugin in a CommonJS package gets a message that says so.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { cli, ROOT, tmp } from '../helpers/rig.ts';
import { PLUGIN } from '../engine/helpers.ts';
import { attribInProcess } from './inprocess.ts';

/** A plugin that leaves a file behind when it runs, and registers the toy kinds. */
function untrusted(dir: string): string {
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
  const api = join(ROOT, 'index.ts');
  writeFileSync(
    join(dir, 'evil.ts'),
    `import { writeFileSync } from 'node:fs';
import { defineStage, z } from ${JSON.stringify(api)};
import toy from ${JSON.stringify(PLUGIN)};
writeFileSync(${JSON.stringify(join(dir, 'ran'))}, 'plugin code ran');
const mydata = defineStage({ name: 'mydata', version: '1', description: 'a data set of mine', params: z.object({}), inputs: {}, output: 'dataset', async run() { return { metrics: {} }; } });
export default (registry: any) => { toy(registry); registry.registerStage(mydata); };
`,
  );
  return join(dir, 'ran');
}

const CONFIG = `name: mixed
plugins: [./evil.ts]
stages:
  data: {kind: dataset, params: {source: iris, train: 100, test: 50}}
  masks: {kind: subsets, inputs: {data: data}, params: {count: 2, alpha: 0.5}}
  mine: {kind: mydata}
  mymasks: {kind: subsets, inputs: {data: mine}, params: {count: 2, alpha: 0.5}}
  nums: {kind: numbers}
`;

test('--no-plugins: validate, plan and dag run no plugin code; stages of plugin kinds are skipped with a note', async (t) => {
  const dir = tmp();
  const ran = untrusted(dir);
  writeFileSync(join(dir, 'config.yaml'), CONFIG);
  const notes = [
    'config.yaml:6 stages.mine.kind: stage kind "mydata" is not built in (a plugin\'s, not loaded with --no-plugins): stage not checked',
    'config.yaml:7 stages.mymasks: not checked: it reads stage "mine", which is skipped',
    'config.yaml:8 stages.nums.kind: stage kind "numbers" is not built in (a plugin\'s, not loaded with --no-plugins): stage not checked',
  ];
  const validate = await attribInProcess(['validate', '--no-plugins', join(dir, 'config.yaml')], dir);
  t.is(validate.code, 0, validate.stderr);
  t.deepEqual(validate.stderr.trim().split('\n'), notes);
  t.regex(validate.stdout, /ok \(1 experiment\(s\), 2 stages each\)/);
  const plan = await attribInProcess(['plan', '--no-plugins', join(dir, 'config.yaml'), '--runs', join(dir, 'runs')], dir);
  t.is(plan.code, 0, plan.stderr);
  t.regex(plan.stdout, /^data +dataset/m);
  t.notRegex(plan.stdout, /mymasks|numbers/);
  const dag = await attribInProcess(['dag', '--no-plugins', join(dir, 'config.yaml')], dir);
  t.is(dag.code, 0, dag.stderr);
  t.false(existsSync(ran), 'no plugin code ran');
  // Mistakes in the built-in stages are still errors.
  writeFileSync(join(dir, 'bad.yaml'), CONFIG.replace('alpha: 0.5', 'alpha: 5'));
  const bad = await attribInProcess(['validate', '--no-plugins', join(dir, 'bad.yaml')], dir);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^bad\.yaml:5 stages\.masks\.params\.alpha: /m);
  t.false(existsSync(ran));
  // Without the flag the plugin runs: that is what the flag is for.
  const trusted = await attribInProcess(['validate', join(dir, 'config.yaml')], dir);
  t.is(trusted.code, 0, trusted.stderr);
  t.true(existsSync(ran));
});

test('a .ts plugin outside a "type": "module" package is told so (real process)', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'plug.ts'), 'export default function register(registry: unknown) { void registry; }\n');
  writeFileSync(join(dir, 'config.yaml'), `name: toy\nplugins: [./plug.ts]\nstages:\n  data: {kind: dataset, params: {source: iris, train: 100, test: 50}}\n`);
  const none = await cli(['validate', 'config.yaml'], { cwd: dir });
  t.is(none.code, 2);
  t.is(none.stderr.trim(), 'config.yaml:2 plugins.0: plugin ./plug.ts: a .ts plugin must be an ES module, but no package.json above it, so Node loads it as CommonJS; create one next to it with {"type": "module"}, or rename the plugin to .mts');
  writeFileSync(join(dir, 'package.json'), '{"name": "mine"}');
  const cjs = await cli(['validate', 'config.yaml'], { cwd: dir });
  t.is(cjs.code, 2);
  t.is(cjs.stderr.trim(), `config.yaml:2 plugins.0: plugin ./plug.ts: a .ts plugin must be an ES module, but ${join(dir, 'package.json')} has no "type": "module", so Node loads it as CommonJS; add "type": "module" to it, or rename the plugin to .mts`);
  writeFileSync(join(dir, 'package.json'), '{"name": "mine", "type": "module"}');
  const esm = await cli(['validate', 'config.yaml'], { cwd: dir });
  t.is(esm.code, 0, esm.stderr);
});
