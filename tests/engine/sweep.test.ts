/** Sweep expansion (grid, zip, both), variant names, --set typing, and sharing of stage instances. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../../pipeline/config.ts';
import { formatError } from '../../pipeline/errors.ts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { shortKeys } from '../../pipeline/expand.ts';
import { parsePath } from '../../pipeline/load.ts';
import { planExperiment } from '../../pipeline/plan.ts';
import { defineStage, Registry } from '../../pipeline/registry.ts';
import { overrideValue } from '../../pipeline/validate.ts';
import register from '../fixtures/engine/toy-plugin.ts';
import { attrib, executions, FIXTURES, runJson, tmp, writeConfig } from './helpers.ts';

function registry(): Registry {
  const r = new Registry();
  register(r);
  return r;
}

async function load(text: string, set: string[] = []) {
  const loaded = await loadConfig(writeConfig(tmp(), text), { registry: registry(), set });
  if (!loaded.ok) throw new Error(loaded.errors.map(formatError).join('\n'));
  return loaded.value.experiments.map((e) => ({ name: e.name, plan: planExperiment(e) }));
}

async function errors(text: string, set: string[] = []): Promise<string[]> {
  const loaded = await loadConfig(writeConfig(tmp(), text), { registry: registry(), set });
  if (loaded.ok) throw new Error('expected errors');
  return loaded.errors.map((e) => formatError({ ...e, file: e.file?.replace(/.*\//, '') }));
}

const hashOf = (plan: { plan: ReturnType<typeof planExperiment> }, stage: string) => plan.plan.instances.find((i) => i.name === stage)!.hash;

const BASE = `name: sw
defaults:
  sq: &sq {sleepMs: 0}
stages:
  data:    {kind: numbers, params: {n: 3}}
  squares: {kind: square, inputs: {data: data}, params: *sq}
  other:   {kind: square, inputs: {data: data}, params: *sq}
  total:   {kind: total, inputs: {squares: squares}}
`;

test('grid is a cartesian product; each point is a named variant', async (t) => {
  const v = await load(`${BASE}sweep:\n  grid:\n    stages.total.params.scale: [1, 2]\n    stages.data.params.n: [3, 4, 5]\n`);
  t.deepEqual(
    v.map((x) => x.name),
    ['sw@scale=1,n=3', 'sw@scale=1,n=4', 'sw@scale=1,n=5', 'sw@scale=2,n=3', 'sw@scale=2,n=4', 'sw@scale=2,n=5'],
  );
  const data = v[4]!.plan.experiment.stages.find((s) => s.name === 'data')!;
  t.is((data.params as { n: number }).n, 4);
});

test('zip walks lists in lock step, and multiplies with grid', async (t) => {
  const zip = await load(`${BASE}sweep:\n  zip:\n    stages.total.params.scale: [1, 2]\n    stages.data.params.n: [3, 4]\n`);
  t.deepEqual(zip.map((x) => x.name), ['sw@scale=1,n=3', 'sw@scale=2,n=4']);
  const both = await load(`${BASE}sweep:\n  grid: {stages.squares.params.tag: [a, b]}\n  zip:\n    stages.total.params.scale: [1, 2]\n    stages.data.params.n: [3, 4]\n`);
  t.deepEqual(both.map((x) => x.name), ['sw@tag=a,scale=1,n=3', 'sw@tag=a,scale=2,n=4', 'sw@tag=b,scale=1,n=3', 'sw@tag=b,scale=2,n=4']);
});

test('variant keys use the last path segment, more where two paths would collide', (t) => {
  t.deepEqual(
    shortKeys([
      ['stages', 'data', 'params', 'n'],
      ['stages', 'other', 'params', 'n'],
      ['stages', 'total', 'params', 'scale'],
    ]),
    ['data.params.n', 'other.params.n', 'scale'],
  );
});

test('a sweep over a downstream param shares every upstream instance', async (t) => {
  const v = await load(`${BASE}sweep:\n  grid: {stages.total.params.scale: [1, 2, 3]}\n`);
  t.is(new Set(v.map((x) => hashOf(x, 'data'))).size, 1);
  t.is(new Set(v.map((x) => hashOf(x, 'squares'))).size, 1);
  t.is(new Set(v.map((x) => hashOf(x, 'total'))).size, 3);
});

test('sweeping a value under a shared anchor changes every alias; a stage path changes that stage only', async (t) => {
  const viaAnchor = await load(`${BASE}sweep:\n  grid: {defaults.sq.sleepMs: [0, 1]}\n`);
  t.not(hashOf(viaAnchor[0]!, 'squares'), hashOf(viaAnchor[1]!, 'squares'));
  t.not(hashOf(viaAnchor[0]!, 'other'), hashOf(viaAnchor[1]!, 'other'));
  const viaStage = await load(`${BASE}sweep:\n  grid: {stages.squares.params.sleepMs: [0, 1]}\n`);
  t.not(hashOf(viaStage[0]!, 'squares'), hashOf(viaStage[1]!, 'squares'));
  t.is(hashOf(viaStage[0]!, 'other'), hashOf(viaStage[1]!, 'other'));
});

test('--set is typed by the schema: a number where a number is wanted, text where text is', async (t) => {
  const [v] = await load(BASE, ['stages.squares.params.tag=123', 'stages.data.params.n=5']);
  const params = (name: string) => v!.plan.experiment.stages.find((s) => s.name === name)!.params as Record<string, unknown>;
  t.is(params('squares').tag, '123');
  t.is(params('data').n, 5);
  t.is(params('other').tag, '', '--set on one stage does not leak through the shared anchor');
  t.deepEqual(await errors(BASE, ['stages.data.params.n=big']), ['--set stages.data.params.n: expected a number, got "big"']);
  t.deepEqual(await errors(BASE, ['stages.nope.params.n=1']), ['--set stages.nope.params.n=1: no stage named "nope"']);
  t.deepEqual(await errors(BASE, ['novalue']), ['--set: expected PATH=VALUE, got "novalue"']);
});

test('--set is typed by the schema at its path: through defaults, unions, preprocessing and lists', (t) => {
  const registry = new Registry();
  const file = z.strictObject({ kind: z.literal('file'), path: z.string(), column: z.union([z.string(), z.number().int()]).default(0) });
  const named = z.strictObject({ kind: z.literal('named'), id: z.number().int() });
  registry.registerStage(
    defineStage({
      name: 'k',
      version: '1',
      description: 'params of many shapes',
      params: z.strictObject({
        label: z.string().default(''),
        size: z.number().int().optional(),
        source: z.preprocess((v) => (typeof v === 'string' ? { kind: v } : v), z.discriminatedUnion('kind', [file, named])),
        tags: z.array(z.string()).default([]),
      }),
      inputs: {},
      output: 'k',
      async run() {},
    }),
  );
  const doc = { stages: { a: { kind: 'k' } } };
  const typed = (path: string, text: string) => overrideValue(registry, doc, { path: parsePath(path), value: parseYaml(text), raw: text });
  t.is(typed('stages.a.params.label', '123'), '123');
  t.is(typed('stages.a.params.size', '123'), 123);
  t.is(typed('stages.a.params.size', 'big'), 'big', 'text stays text (validation says what is wrong)');
  t.is(typed('stages.a.params.source.path', '2024'), '2024');
  t.is(typed('stages.a.params.source.column', '3'), 3, 'a number where a number is one of the choices');
  t.is(typed('stages.a.params.source.id', '3'), 3);
  t.is(typed('stages.a.params.tags.0', 'true'), 'true');
  t.is(typed('stages.a.seed', '5'), 5);
  t.is(typed('seed', '5'), 5);
  t.is(typed('executor.slurm.partition', '7'), 7, 'free-form sections take the value as YAML reads it');
  t.is(typed('stages.b.params.label', '1'), 1, 'an unknown stage: left to validation');
});

test('sweep errors point at the line of the offending value or path', async (t) => {
  t.deepEqual(await errors(`${BASE}sweep:\n  grid:\n    stages.data.params.n:\n      - 3\n      - big\n`), [
    'config.yaml:13 stages.data.params.n: expected a number, got "big"',
  ]);
  t.deepEqual(await errors(`${BASE}sweep:\n  zip:\n    stages.data.params.n: [1, 2]\n    stages.total.params.scale: [1]\n`), [
    'config.yaml:12 sweep.zip.stages.total.params.scale: zip lists must have the same length: stages.data.params.n has 2, this one has 1',
  ]);
  t.deepEqual(await errors(`${BASE}sweep:\n  grid:\n    stages.dat.params.n: [1, 2]\n`), ['config.yaml:11 sweep.grid.stages.dat.params.n: no stage named "dat"']);
  t.deepEqual(await errors(`${BASE}sweep:\n  grid:\n    name: [a, b]\n`), [
    'config.yaml:11 sweep.grid.name: cannot sweep or set "name" (settable: seed, backend, defaults, executor, stages)',
  ]);
});

test('running a sweep: upstream units run once for all points, each point has its own run.json', async (t) => {
  const runs = tmp();
  const log = join(runs, 'toy.log');
  const r = await attrib(['run', join(FIXTURES, 'sweep.yaml'), '--runs', runs, '--jobs', '2'], { env: { ATTRIB_TOY_LOG: log } });
  t.is(r.code, 0, r.stderr);
  t.is(executions(log).length, 4, 'four numbers, squared once');
  const a = runJson(runs, 'toy-sweep@scale=1');
  const b = runJson(runs, 'toy-sweep@scale=2');
  t.is(a.squares!.hash, b.squares!.hash);
  t.not(a.total!.hash, b.total!.hash);
  t.is(a.total!.metrics.total, 14);
  t.is(b.total!.metrics.total, 28);
  t.true(existsSync(join(runs, 'store', a.squares!.hash, 'manifest.json')));
  t.regex(r.stdout, /toy-sweep@scale=1\n/);
  t.regex(r.stdout, /toy-sweep@scale=2\n/);
});
