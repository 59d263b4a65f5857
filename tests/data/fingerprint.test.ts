/**
 * A data file named in params is hashed by content (DVC-style): editing it changes the
 * dataset stage's hash, and a missing file is a config error at its YAML line (exit 2).
 */
import test from 'ava';
import { appendFileSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../pipeline/config.ts';
import { formatError } from '../../pipeline/errors.ts';
import { planExperiment } from '../../pipeline/plan.ts';
import { Registry } from '../../pipeline/registry.ts';
import { registerBuiltins } from '../../stages/index.ts';

const registry = new Registry();
registerBuiltins(registry);

async function datasetHash(config: string): Promise<string> {
  const loaded = await loadConfig(config, { registry });
  if (!loaded.ok) throw new Error(loaded.errors.map(formatError).join('\n'));
  return planExperiment(loaded.value.experiments[0]!).instances[0]!.hash;
}

test('editing a csv file changes the dataset hash; an unchanged file keeps it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-fp-'));
  const csv = join(dir, 'shapes.csv');
  copyFileSync('docs/examples/data/shapes.csv', csv);
  const config = join(dir, 'fp.yaml');
  writeFileSync(config, `name: fp\nstages:\n  data: {kind: dataset, params: {source: {kind: csv, path: ${JSON.stringify(csv)}}, train: 200, test: 50}}\n`);
  const before = await datasetHash(config);
  t.is(await datasetHash(config), before);
  appendFileSync(csv, '0.5,0.5,0.5,0.5,circle\n');
  t.not(await datasetHash(config), before);
});

test('a missing data file is reported at its line, like any config error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-fp-'));
  const config = join(dir, 'missing.yaml');
  writeFileSync(config, 'name: fp\nstages:\n  data:\n    kind: dataset\n    params: {source: {kind: npy, x: /nonexistent/x.npy, y: /nonexistent/y.npy}, train: 10, test: 5}\n');
  const loaded = await loadConfig(config, { registry });
  t.false(loaded.ok);
  if (loaded.ok) return;
  t.is(formatError(loaded.errors[0]!), `${config}:5 stages.data.params.source.x: cannot read /nonexistent/x.npy: no such file`);
});
