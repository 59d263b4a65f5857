/**
 * The generated JSON Schema, checked with a real validator (ajv, strict mode): every
 * config in configs/, bench/ and docs/examples/ validates; typical mistakes do not (and
 * the engine rejects them too); the `{kind}` string shorthand; plugin kinds with
 * `attrib schema --config`; and the `# yaml-language-server: $schema=` first line of
 * every config points at the checked-in schema.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadConfig } from '../../pipeline/config.ts';
import { loadPlugins } from '../../pipeline/plugins.ts';
import { configJsonSchema } from '../../pipeline/schema.ts';
import { attrib, builtinRegistry, builtinValidator, compile, read, readYaml, ROOT, tmp, TOY, yamlFiles } from './helpers.ts';

const SCHEMA_FILE = join(ROOT, 'schema', 'attrib.schema.json');
const CONFIGS = [...yamlFiles('configs'), ...yamlFiles('bench'), ...(existsSync(join(ROOT, 'docs', 'examples')) ? yamlFiles('docs/examples') : [])];

test('the schema compiles in strict mode and names every built-in kind', (t) => {
  const registry = builtinRegistry();
  const { schema, problems } = configJsonSchema(registry);
  t.deepEqual(problems, []);
  t.notThrows(() => compile(schema));
  const definitions = Object.keys(schema.definitions as object);
  t.deepEqual(definitions, [...registry.stages.keys()].map((k) => `stage-${k}`));
});

// Serial (ava runs serial tests first): data sources and model kinds live in module-level
// tables that the latest registry binds, so no other test may make a registry meanwhile.
test.serial('every config in configs/, bench/ and docs/examples/ validates (with its plugins\' kinds)', async (t) => {
  t.true(CONFIGS.length >= 2, 'found the configs');
  for (const file of CONFIGS) {
    const doc = readYaml(read(file)) as { plugins?: string[] };
    let validate = builtinValidator();
    if (doc.plugins?.length) {
      const registry = builtinRegistry();
      t.deepEqual(await loadPlugins(registry, doc.plugins.map((p) => resolve(dirname(file), p))), []);
      validate = compile(configJsonSchema(registry).schema);
    }
    const ok = validate(doc);
    t.true(ok, `${relative(ROOT, file)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
});

test('every config starts with a yaml-language-server line pointing at the schema', (t) => {
  for (const file of CONFIGS) {
    const first = read(file).split('\n')[0]!;
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    t.truthy(m, `${relative(ROOT, file)}: first line is ${JSON.stringify(first)}`);
    if (m) t.is(resolve(dirname(file), m[1]!), SCHEMA_FILE, relative(ROOT, file));
  }
});

const GOOD = `
name: ok
defaults:
  recipe: &recipe
    model: mlp
    fit: {epochs: 1, batchSize: 32, optimizer: {kind: sgd, lr: 0.1}}
stages:
  data:     {kind: dataset, params: {source: iris, train: 100, test: 50}}
  masks:    {kind: subsets, inputs: {data: data}, params: {count: 4}}
  models:   {kind: train, inputs: {data: data, masks: masks}, params: {<<: *recipe, seeds: 2}}
  features: {kind: linearize, inputs: {models: models}, params: {projector: {kind: gaussian, dim: 16}}}
  scores:   {kind: trak, inputs: {features: features}, params: {lambda: {relative: 0.1}}}
sweep:
  grid: {stages.features.params.projector.dim: [8, 16]}
`;

/** [what, a change to GOOD, the path ajv names]. */
const BAD: [string, (text: string) => string, string][] = [
  ['unknown top-level key', (s) => `${s}sweeep: {}\n`, ''],
  ['bad experiment name', (s) => s.replace('name: ok', 'name: Not OK'), '/name'],
  ['reserved name', (s) => s.replace('name: ok', 'name: store'), '/name'],
  ['unknown backend', (s) => `${s}backend: gpu\n`, '/backend'],
  ['unknown stage kind', (s) => s.replace('kind: trak', 'kind: trac'), '/stages/scores'],
  ['unknown param (typo)', (s) => s.replace('epochs: 1', 'epocs: 1'), '/stages/models'],
  ['wrong param type', (s) => s.replace('relative: 0.1', 'relative: big'), '/stages/scores'],
  ['missing required param', (s) => s.replace('params: {count: 4}', 'params: {alpha: 0.5}'), '/stages/masks'],
  ['out of range', (s) => s.replace('count: 4', 'count: 0'), '/stages/masks'],
  ['unknown input name', (s) => s.replace('inputs: {features: features}', 'inputs: {feature: features}'), '/stages/scores'],
  ['missing input', (s) => s.replace('inputs: {data: data}, params: {count: 4}', 'params: {count: 4}'), '/stages/masks'],
  ['unknown model kind', (s) => s.replace('model: mlp', 'model: resnet'), '/stages/models'],
  ['unknown key in a model variant', (s) => s.replace('model: mlp', 'model: {kind: logreg, hidden: [4]}'), '/stages/models'],
  ['a source that cannot be a bare name', (s) => s.replace('source: iris', 'source: csv'), '/stages/data'],
  ['unknown stage key', (s) => s.replace('kind: trak,', 'kind: trak, seeds: 1,'), '/stages/scores'],
  ['negative stage seed', (s) => s.replace('kind: trak,', 'kind: trak, seed: -1,'), '/stages/scores'],
  ['sweep lists must not be empty', (s) => s.replace('[8, 16]', '[]'), '/sweep'],
];

test('a good config validates, with shorthand kinds, merge keys and a sweep', (t) => {
  const validate = builtinValidator();
  t.true(validate(readYaml(GOOD)), JSON.stringify(validate.errors));
});

for (const [what, change, path] of BAD) {
  test(`rejected by the schema and by the engine: ${what}`, async (t) => {
    const text = change(GOOD);
    t.not(text, GOOD, 'the change applies');
    const validate = builtinValidator();
    t.false(validate(readYaml(text)));
    t.true(validate.errors!.some((e) => e.instancePath.startsWith(path)), JSON.stringify(validate.errors?.map((e) => e.instancePath)));
    // The schema never rejects what the engine accepts (it is a subset check): the engine agrees.
    const dir = tmp();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, text);
    const loaded = await loadConfig(file, { registry: builtinRegistry() });
    t.false(loaded.ok, 'the engine rejects it too');
  });
}

test('the engine accepts GOOD too', async (t) => {
  const dir = tmp();
  const file = join(dir, 'good.yaml');
  writeFileSync(file, GOOD);
  const loaded = await loadConfig(file, { registry: builtinRegistry() });
  t.true(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.errors));
});

test('the {kind} shorthand is offered exactly where the schema accepts a bare name', (t) => {
  const { schema } = configJsonSchema(builtinRegistry());
  const defs = schema.definitions as Record<string, { properties: { params: { properties: Record<string, { anyOf?: { enum?: string[] }[] }> } } }>;
  const source = defs['stage-dataset']!.properties.params.properties.source!;
  t.deepEqual(source.anyOf?.[0]?.enum?.includes('mnist'), true);
  t.false(source.anyOf?.[0]?.enum?.includes('csv'), 'csv needs a path');
  const model = defs['stage-train']!.properties.params.properties.model!;
  t.true(['logreg', 'mlp', 'cnn'].every((k) => model.anyOf?.[0]?.enum?.includes(k)));
});

test('attrib schema prints the checked-in schema; --config adds a plugin\'s kinds', async (t) => {
  const plain = await attrib(['schema']);
  t.is(plain.code, 0, plain.stderr);
  t.deepEqual(JSON.parse(plain.stdout), JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));

  const dir = tmp();
  const out = join(dir, 'toy.schema.json');
  const withPlugin = await attrib(['schema', '--config', TOY, '--out', out]);
  t.is(withPlugin.code, 0, withPlugin.stderr);
  const schema = JSON.parse(readFileSync(out, 'utf8'));
  for (const kind of ['numbers', 'square', 'total']) t.truthy(schema.definitions[`stage-${kind}`], kind);
  const validate = compile(schema);
  t.true(validate(readYaml(read(TOY))), JSON.stringify(validate.errors?.slice(0, 3)));
  t.false(builtinValidator()(readYaml(read(TOY))), 'without the plugin, its kinds are unknown');
});

test('attrib schema --config with a missing plugin exits 2 and says which', async (t) => {
  const dir = tmp();
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'name: x\nplugins: [./nope.ts]\nstages: {}\n');
  const r = await attrib(['schema', '--config', file]);
  t.is(r.code, 2);
  t.regex(r.stderr, /nope\.ts: no such file/);
});
