/**
 * `attrib kinds` and `attrib kinds NAME` through the real CLI, and the param rows they
 * are built from (pipeline/schema.ts), checked against the kinds' own zod schemas.
 */
import test from 'ava';
import { z } from 'zod';
import { renderKind, renderKindList } from '../../pipeline/commands/kinds.ts';
import { defineStage } from '../../pipeline/registry.ts';
import { describeParams, paramsJsonSchema, typeText, yamlText, zodToJsonSchema } from '../../pipeline/schema.ts';
import { attrib, builtinRegistry, TOY } from './helpers.ts';

test('attrib kinds lists every built-in kind, one line each', async (t) => {
  const r = await attrib(['kinds']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const registry = builtinRegistry();
  t.is(lines.length, registry.stages.size + 1, 'a header and one line per kind');
  for (const kind of registry.stages.values()) {
    const line = lines.find((l) => l.startsWith(`${kind.name} `));
    t.truthy(line, kind.name);
    t.true(line!.includes(kind.output) && line!.includes(kind.description), kind.name);
  }
});

test('attrib kinds NAME shows inputs, output, params with types, defaults and descriptions, and the equation', async (t) => {
  const registry = builtinRegistry();
  const subsets = registry.stage('subsets')!;
  const r = await attrib(['kinds', 'subsets']);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.includes(subsets.equation!));
  t.regex(r.stdout, /data\s+dataset/);
  t.regex(r.stdout, /output: masks/);
  t.regex(r.stdout, /count\s+integer > 0\s+required\s+number of subsets/);
  t.regex(r.stdout, /alpha\s+number > 0, ≤ 1\s+0\.5\s+fraction of the train set/);
  t.regex(r.stdout, /mode\s+"exact" \| "bernoulli"\s+exact/);
  // Every kind renders, and every param of every kind appears by its path.
  for (const kind of registry.stages.values()) {
    const text = renderKind(kind, registry);
    for (const row of describeParams(paramsJsonSchema(kind, registry))) t.true(text.includes(row.path), `${kind.name}: ${row.path}`);
  }
});

test('attrib kinds train shows the variants of a {kind} union (models, optimizers)', async (t) => {
  const r = await attrib(['kinds', 'train']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /model\s+\{kind: logreg \| mlp \| cnn, \.\.\.\} or the kind alone\s+required/);
  t.regex(r.stdout, /when model\.kind: mlp:\n.*\n\s+model\.hidden\s+list of integer > 0\s+\[128\]/);
  t.regex(r.stdout, /when fit\.optimizer\.kind: sgd:[\s\S]*fit\.optimizer\.lr\s+number > 0\s+required/);
});

test('attrib kinds with an unknown name exits 2 and lists the known kinds', async (t) => {
  const r = await attrib(['kinds', 'trac']);
  t.is(r.code, 2);
  t.regex(r.stderr, /no stage kind named "trac" \(known: .*tracin/);
});

test('attrib kinds --config shows a plugin\'s kinds', async (t) => {
  const r = await attrib(['kinds', '--config', TOY]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^square\s+data\s+squares\s+squares each number/m);
  const one = await attrib(['kinds', 'square', '--config', TOY]);
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, /y_i = x_i\^2/);
  t.regex(one.stdout, /sleepMs\s+integer ≥ 0\s+0/);
});

test('param rows: nested objects, unions, defaults, descriptions, optional vs required', (t) => {
  const schema = z.strictObject({
    n: z.number().int().positive().describe('how many'),
    rate: z.number().gt(0).lte(1).default(0.5),
    mode: z.enum(['a', 'b']).default('a'),
    lambda: z.union([z.number().nonnegative(), z.strictObject({ relative: z.number().nonnegative() })]).default({ relative: 0.05 }),
    fit: z.strictObject({ epochs: z.number().int().positive(), lr: z.number().optional().describe('step') }),
    opt: z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('sgd'), momentum: z.number().default(0) }), z.strictObject({ kind: z.literal('adam') })]),
    tags: z.array(z.string()).min(1).optional(),
    loose: z.object({ a: z.number() }).optional(),
  });
  const rows = describeParams(zodToJsonSchema(schema));
  const row = (path: string, when?: string) => rows.find((r) => r.path === path && r.when === when)!;
  t.deepEqual(row('n'), { path: 'n', when: undefined, type: 'integer > 0', required: true, hasDefault: false, default: undefined, description: 'how many' });
  t.is(row('rate').type, 'number > 0, ≤ 1');
  t.is(row('rate').default, 0.5);
  t.is(row('mode').type, '"a" | "b"');
  t.is(row('lambda').type, 'number ≥ 0 | {relative: number ≥ 0}');
  t.is(yamlText(row('lambda').default), '{relative: 0.05}');
  t.is(row('fit').type, 'mapping');
  t.true(row('fit.epochs').required);
  t.false(row('fit.lr').required);
  t.is(row('fit.lr').description, 'step');
  t.is(row('opt').type, '{kind: sgd | adam, ...}');
  t.is(row('opt.momentum', 'opt.kind: sgd').default, 0);
  t.is(row('tags').type, 'list of string (at least 1)');
  // z.object() would strip unknown keys, which the engine reports as errors: closed too.
  const json = zodToJsonSchema(schema) as { properties: { loose: { additionalProperties: unknown } } };
  t.is(json.properties.loose.additionalProperties, false);
});

test('a {kind} union with a string shorthand keeps its default and offers the names that parse alone', (t) => {
  const union = z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('constant') }), z.strictObject({ kind: z.literal('step'), every: z.number() })]);
  const schedule = z.preprocess((v) => (typeof v === 'string' ? { kind: v } : v), union);
  const rows = describeParams(zodToJsonSchema(z.strictObject({ schedule: schedule.default({ kind: 'constant' }).describe('how the rate moves') })));
  t.like(rows[0], { path: 'schedule', type: '{kind: constant | step, ...} or the kind alone', hasDefault: true, default: { kind: 'constant' }, description: 'how the rate moves' });
  const json = zodToJsonSchema(schedule) as { anyOf: { enum?: string[] }[] };
  t.deepEqual(json.anyOf[0]!.enum, ['constant'], '"step" alone does not parse (it needs every)');
});

test('typeText and yamlText basics', (t) => {
  t.is(typeText(undefined), 'any');
  t.is(typeText({}), 'any');
  t.is(typeText({ type: 'string', pattern: '^x$' }), 'string matching ^x$');
  t.is(typeText({ type: 'object', additionalProperties: { type: 'number' } }), 'mapping of number');
  t.is(yamlText('exact'), 'exact');
  t.is(yamlText('true'), '"true"');
  t.is(yamlText(','), '","');
  t.is(yamlText([16, 32]), '[16, 32]');
});

test('a kind whose params cannot be read is shown as such, not a crash', (t) => {
  const broken = defineStage({
    name: 'broken',
    version: '1',
    description: 'a plugin kind whose params getter throws',
    get params(): z.ZodType {
      throw new Error('no model registered');
    },
    inputs: {},
    output: 'nothing',
    async run() {},
  });
  const registry = builtinRegistry();
  t.regex(renderKind(broken, registry), /params: cannot be read \(no model registered\)/);
  // The same for params built from the registry (as dataset and train build theirs).
  const builtFromRegistry = defineStage({
    name: 'broken-built',
    version: '1',
    description: 'a plugin kind whose params builder throws',
    params: (): z.ZodType => {
      throw new Error('no source registered');
    },
    inputs: {},
    output: 'nothing',
    async run() {},
  });
  t.regex(renderKind(builtFromRegistry, registry), /params: cannot be read \(no source registered\)/);
  registry.registerStage(broken);
  t.regex(renderKindList(registry), /^broken\s+-\s+nothing/m);
});
