/**
 * `attrib init`: every (data, method) starter validates with the engine and with the
 * JSON Schema at real sizes; at --tiny sizes a covering set runs through the real CLI
 * (every data set once with TRAK, every method once), so the starters run as written.
 * It refuses to overwrite a file without --force.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../pipeline/config.ts';
import { DATA, METHODS, renderStarter } from '../../cli/init.ts';
import { attrib, builtinRegistry, builtinValidator, readYaml, ROOT, tmp } from './helpers.ts';

for (const data of DATA) {
  for (const method of METHODS) {
    for (const tiny of [false, true]) {
      test(`starter ${data} × ${method}${tiny ? ' (tiny)' : ''} is a valid config (engine and JSON Schema)`, async (t) => {
        const dir = tmp();
        const out = join(dir, 'starter.yaml');
        const text = renderStarter({ data, method, tiny, out, cwd: ROOT });
        writeFileSync(out, text);
        t.true(text.startsWith('# yaml-language-server: $schema='));
        const validate = builtinValidator();
        t.true(validate(readYaml(text)), JSON.stringify(validate.errors?.slice(0, 3)));
        const loaded = await loadConfig(out, { registry: builtinRegistry() });
        t.true(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.errors));
        // Explicit about every stage: each one has a comment block or a commented line near it.
        t.regex(text, /^ {2}# The data: /m);
        t.regex(text, /^ {2}# Evaluation: the linear datamodeling score/m);
      });
    }
  }
}

/** Every data set once (with TRAK), every method once: the sections a starter is made of. */
const RUNS: [string, string][] = [
  ['mnist', 'trak'],
  ['fashion-mnist', 'trak'],
  ['iris', 'compare'],
  ['synthetic', 'datamodels'],
  ['csv', 'trak'],
  ['npy', 'trak'],
];

for (const [data, method] of RUNS) {
  test.serial(`attrib init --data ${data} --method ${method} --tiny runs as written`, async (t) => {
    const dir = tmp();
    const made = await attrib(['init', '--data', data, '--method', method, '--tiny', '--out', join(dir, 'exp.yaml')]);
    t.is(made.code, 0, made.stderr);
    t.regex(made.stdout, /wrote .*exp\.yaml/);
    const run = await attrib(['run', join(dir, 'exp.yaml'), '--runs', join(dir, 'runs'), '--jobs', '2']);
    t.is(run.code, 0, run.stdout + run.stderr);
    const record = JSON.parse(readFileSync(join(dir, 'runs', `${data}-${method}-tiny`, 'run.json'), 'utf8')) as Record<string, { status: string; metrics: Record<string, unknown> }>;
    const lds = Object.entries(record).filter(([name]) => name.startsWith('lds') && name !== 'lds_masks' && name !== 'lds_models');
    t.true(lds.length >= 1);
    for (const [name, entry] of lds) {
      t.is(entry.status, 'ran', name);
      t.is(typeof entry.metrics.lds, 'number', name);
    }
  });
}

test('attrib init refuses to overwrite without --force, and overwrites with it', async (t) => {
  const dir = tmp();
  const out = join(dir, 'mine.yaml');
  writeFileSync(out, 'my own work\n');
  const refused = await attrib(['init', '--out', out]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /exists; pass --force/);
  t.is(readFileSync(out, 'utf8'), 'my own work\n');
  const forced = await attrib(['init', '--out', out, '--force', '--data', 'iris']);
  t.is(forced.code, 0, forced.stderr);
  t.regex(readFileSync(out, 'utf8'), /source: iris/);
});

test('attrib init defaults to mnist × trak in <data>-<method>.yaml; rejects unknown choices', async (t) => {
  const dir = tmp();
  const r = await attrib(['init'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.true(existsSync(join(dir, 'mnist-trak.yaml')));
  const text = readFileSync(join(dir, 'mnist-trak.yaml'), 'utf8');
  t.regex(text, /^name: mnist-trak$/m);
  // Outside the checkout, the schema and the example data are named absolutely.
  t.regex(text.split('\n')[0]!, /\$schema=file:\/\/.*\/schema\/attrib\.schema\.json$/);
  const bad = await attrib(['init', '--data', 'cifar'], { cwd: dir });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /cifar.*(choices|Allowed)/i);
});
