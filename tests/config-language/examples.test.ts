/**
 * Every config the docs show is a file in docs/examples/ (the guides include them as
 * snippets, refreshed by scripts/gen-docs.ts), and every one runs here through the real
 * CLI, shrunk to a few seconds with --set (fewer models, examples and epochs; the
 * config's structure, sources, plugins and sweeps as written). The scale-out example,
 * meant for a cluster, runs here on the local executor, and its executor options are
 * checked by each executor. Data sets are also loaded at their written size (a config
 * asking for more rows than its source has fails only when it runs).
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { findExecutor } from '../../pipeline/executors/index.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { attrib, builtinRegistry, readYaml, ROOT, tmp, yamlFiles } from './helpers.ts';

const EXAMPLES = yamlFiles('docs/examples');
/** Examples whose `executor:` block is checked by each executor it names (besides running). */
const EXECUTOR_OPTIONS = new Set(['scale-out.yaml']);
/** Where each example ran, for the tests that read its results. */
const ranIn = new Map<string, string>();

type Stage = { kind: string; params?: Record<string, unknown> };

/** --set overrides that keep a config's shape and shrink its work to seconds. */
export function shrink(config: { stages: Record<string, Stage>; defaults?: Record<string, any> }): string[] {
  const set: string[] = [];
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  // A recipe under defaults is shrunk there, once for every stage that aliases or merges
  // it: a --set into a stage's `<<: *recipe` would replace the merged `fit` whole.
  const recipes = Object.entries(config.defaults ?? {}).filter(([, r]) => (num(r?.fit?.epochs) ?? 0) > 2);
  for (const [name] of recipes) set.push(`defaults.${name}.fit.epochs=2`);
  const fromRecipe = (fit: unknown) => recipes.some(([, r]) => JSON.stringify(r.fit) === JSON.stringify(fit));
  for (const [name, stage] of Object.entries(config.stages)) {
    const p = (stage.params ?? {}) as Record<string, any>;
    const at = `stages.${name}.params`;
    switch (stage.kind) {
      case 'dataset':
        if ((num(p.train) ?? 0) > 100) set.push(`${at}.train=100`);
        if ((num(p.test) ?? 0) > 30) set.push(`${at}.test=30`);
        break;
      case 'subsets':
        if ((num(p.count) ?? 0) > 6) set.push(`${at}.count=6`);
        break;
      case 'train':
        if ((num(p.fit?.epochs) ?? 0) > 2 && !fromRecipe(p.fit)) set.push(`${at}.fit.epochs=2`);
        if ((num(p.seeds) ?? 1) > 1) set.push(`${at}.seeds=1`);
        break;
      case 'linearize':
      case 'tracin':
      case 'datamodels':
        if (p.targets && (num(p.targets.count) ?? Infinity) > 10) set.push(`${at}.targets.count=10`);
        if ((num(p.projector?.dim) ?? 0) > 32) set.push(`${at}.projector.dim=32`);
        break;
    }
  }
  return set.flatMap((s) => ['--set', s]);
}

test('the docs have examples, and every one is shown in a guide', (t) => {
  t.true(EXAMPLES.length >= 6);
  const guides = readFileSync(join(ROOT, 'docs', 'README.md'), 'utf8') + ['configs', 'guide-own-data', 'guide-compare', 'guide-plugins', 'guide-scale-out'].map((g) => readFileSync(join(ROOT, 'docs', `${g}.md`), 'utf8')).join('\n');
  for (const file of EXAMPLES) t.true(guides.includes(`<!-- snippet: ${relative(join(ROOT, 'docs'), file)} -->`), relative(ROOT, file));
});

for (const file of EXAMPLES) {
  const name = basename(file);
  if (EXECUTOR_OPTIONS.has(name)) {
    test(`docs/examples/${name}: each executor accepts its options`, (t) => {
      const executor = (readYaml(readFileSync(file, 'utf8')) as { executor: Record<string, unknown> }).executor;
      for (const section of Object.keys(executor)) {
        const factory = findExecutor(section, builtinRegistry());
        t.truthy(factory?.options, section);
        const parsed = factory!.options!.safeParse(executor);
        t.true(parsed.success, `${section}: ${JSON.stringify(parsed.error?.issues)}`);
      }
    });
  }
  test.serial(`docs/examples/${name} runs as written (shrunk with --set)`, async (t) => {
    const config = readYaml(readFileSync(file, 'utf8')) as { name: string; stages: Record<string, Stage> };
    const dir = tmp();
    const r = await attrib(['run', file, '--runs', join(dir, 'runs'), '--jobs', '2', ...shrink(config)]);
    t.is(r.code, 0, r.stdout + r.stderr);
    ranIn.set(name, join(dir, 'runs'));
    const lds = Object.entries(config.stages).filter(([, s]) => s.kind === 'lds');
    t.true(lds.length > 0, 'every example ends in an LDS');
    for (const [stage] of lds) t.regex(r.stdout, new RegExp(`^${stage}\\s+ran\\s+[\\d.]+\\s+lds=-?[\\d.]+`, 'm'), stage);
  });
}

test.serial('every example\'s data sets fit their sources at the written size', async (t) => {
  for (const file of EXAMPLES) {
    const doc = readYaml(readFileSync(file, 'utf8')) as { stages: Record<string, Stage>; plugins?: string[]; sweep?: unknown };
    // Each dataset stage alone, unshrunk: a source with fewer rows than asked fails here.
    for (const [stage, spec] of Object.entries(doc.stages).filter(([, s]) => s.kind === 'dataset')) {
      const dir = tmp();
      const only = join(dir, 'only-data.yaml');
      const plugins = (doc.plugins ?? []).map((p) => resolve(dirname(file), p));
      writeFileSync(only, stringify({ ...doc, sweep: undefined, plugins, stages: { [stage]: spec } }));
      const r = await attrib(['run', only, '--runs', join(dir, 'runs'), '--jobs', '1', '--quiet']);
      t.is(r.code, 0, `${relative(ROOT, file)} ${stage}: ${r.stdout}${r.stderr}`);
    }
  }
});

test.serial('top.json indices map back to the rows of the user\'s own CSV (docs/guide-own-data.md)', (t) => {
  const runs = ranIn.get('own-data-csv.yaml');
  if (!runs) return t.fail('docs/examples/own-data-csv.yaml did not run');
  const run = JSON.parse(readFileSync(join(runs, 'own-data-csv', 'run.json'), 'utf8')) as Record<string, { dir: string }>;
  const entry = (stage: string) => join(runs, 'own-data-csv', run[stage]!.dir);
  const top = JSON.parse(readFileSync(join(entry('scores'), 'top.json'), 'utf8')) as { target: number; proponents: { index: number }[] }[];
  const trainIndex = readNpy(join(entry('data'), 'train_index.npy')).data as Int32Array;
  const testIndex = readNpy(join(entry('data'), 'test_index.npy')).data as Int32Array;
  const yTrain = readNpy(join(entry('data'), 'y_train.npy')).data as Int32Array;
  const yTest = readNpy(join(entry('data'), 'y_test.npy')).data as Int32Array;
  const rows = readFileSync(join(ROOT, 'docs', 'examples', 'data', 'shapes.csv'), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
  const classes = [...new Set(rows.map((r) => r[5]!))].sort();
  t.true(top.length > 0);
  for (const { target, proponents } of top) {
    // top.json's target is a row of the test split, a proponent's index a row of the train split;
    // test_index.npy / train_index.npy turn them into 0-based data rows of the CSV (header not counted).
    const targetRow = rows[testIndex[target]!]!;
    t.is(targetRow[5], classes[yTest[target]!]);
    for (const p of proponents) t.is(rows[trainIndex[p.index]!]![5], classes[yTrain[p.index]!]);
    // The example's id column is 1-based row numbers: the id of a proponent is its row + 1.
    t.is(Number(rows[trainIndex[proponents[0]!.index]!]![0]), trainIndex[proponents[0]!.index]! + 1);
  }
});
