/**
 * Fuzz (issue 16): generated hostile configs and data files through the real CLI code.
 * Each must end with exit code 0, 1 (a stage failed, with its message) or 2 (the user's
 * mistake, one line each), and never print a stack trace or an internal error.
 *
 *   - CONFIGS configs: valid ones mutated (values swapped for junk, keys dropped or
 *     added, prototype names, aliases, text cut short or garbled), through `validate`
 *   - DATA_FILES data files (CSV and .npy: wrong shapes, NaN, bad labels, truncated
 *     files, wrong dtypes), each through `run` of a dataset stage (tiny)
 *
 * Deterministic: every case derives from the project's seeded Rng, and a failure names
 * its case number and the input. Run in-process through main() (tests/hardening/
 * inprocess.ts); a few cases also go through a spawned executable.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { Rng } from '../../lib/random/rng.ts';
import { writeNpy } from '../../lib/io/npy.ts';
import { cli, tmp } from '../helpers/rig.ts';
import { attribInProcess, stackFree } from '../hardening/inprocess.ts';

const CONFIGS = 120;
const DATA_FILES = 48;

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)]!;

/** Valid configs the mutations start from (built-in kinds only: no plugin code runs). */
function baseConfig(rng: Rng): Record<string, any> {
  const recipe = { model: { kind: pick(rng, ['logreg', 'mlp']), hidden: [8] }, fit: { epochs: 1, batchSize: 16, optimizer: { kind: 'sgd', lr: 0.1 } } };
  const config: Record<string, any> = {
    name: 'fuzz',
    seed: rng.int(5),
    stages: {
      data: { kind: 'dataset', params: { source: 'iris', train: 100, test: 50 } },
      masks: { kind: 'subsets', inputs: { data: 'data' }, params: { count: 4, alpha: 0.5 } },
      models: { kind: 'train', inputs: { data: 'data', masks: 'masks' }, params: recipe },
      features: { kind: 'linearize', inputs: { models: 'models' }, params: { projector: { kind: 'gaussian', dim: 16 }, targets: { split: 'test', count: 10 } } },
      scores: { kind: 'trak', inputs: { features: 'features' } },
      lds: { kind: 'lds', inputs: { scores: 'scores', models: 'models' } },
    },
  };
  if (recipe.model.kind === 'logreg') delete (recipe.model as { hidden?: unknown }).hidden;
  if (rng.uniform() < 0.3) config.sweep = { grid: { 'stages.masks.params.alpha': [0.3, 0.5] } };
  return config;
}

const JUNK: readonly unknown[] = [null, -1, 0, 1e11, -1e308, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '', 'x'.repeat(5000), '../../etc', 'imagenet', [], [[[]]], {}, { kind: 'nope' }, true, '__proto__', 'constructor', 2 ** 53, { __proto__: 1 }];
const KEYS: readonly string[] = ['__proto__', 'constructor', 'toString', 'kind', 'params', 'inputs', 'zzz', '', '<<', 'hasOwnProperty'];

/** Every [parent, key] pair in a plain value, depth first. */
function slots(value: unknown, out: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (value && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      out.push([value as Record<string, unknown>, key]);
      slots((value as Record<string, unknown>)[key], out);
    }
  }
  return out;
}

/** One config as YAML text: a base config with 1-3 structural mutations, then maybe a textual one. */
function mutatedConfig(rng: Rng): { text: string; set: string[] } {
  const config = baseConfig(rng);
  for (let m = 1 + rng.int(3); m > 0; m--) {
    const all = slots(config);
    const [parent, key] = pick(rng, all);
    switch (rng.int(4)) {
      case 0:
        parent[key] = pick(rng, JUNK);
        break;
      case 1:
        delete parent[key];
        break;
      case 2:
        Object.defineProperty(parent, pick(rng, KEYS), { value: pick(rng, JUNK), enumerable: true, configurable: true, writable: true });
        break;
      default:
        // Rename a key (a stage, a param) to something hostile.
        Object.defineProperty(parent, pick(rng, KEYS), { value: parent[key], enumerable: true, configurable: true, writable: true });
        delete parent[key];
    }
  }
  let text = stringify(config, { aliasDuplicateObjects: false });
  switch (rng.int(8)) {
    case 0:
      text = text.slice(0, rng.int(text.length)); // cut short
      break;
    case 1: {
      const at = rng.int(text.length);
      text = text.slice(0, at) + pick(rng, ['*nope', '<<: 5', '&a [*a]', '{', ']', '"', ': :', '\t', '\0', '!!binary x', '- ', '%YAML 9']) + text.slice(at);
      break;
    }
    case 2:
      text = `anchors: &a [${'x,'.repeat(9)}x]\n${Array.from({ length: 9 }, (_, i) => `l${i}: &l${i + 1} [${Array(9).fill(i === 0 ? '*a' : `*l${i}`).join(',')}]`).join('\n')}\n${text}`;
      break;
    case 3:
      text = text.replace('stages:', `stages:\n  deep: ${'['.repeat(300 + rng.int(3000))}`);
      break;
    default:
  }
  const set = rng.uniform() < 0.3 ? [`${pick(rng, ['stages.masks.params.alpha', 'stages.__proto__.params.x', 'stages.toString.kind', 'seed', 'name', 'stages.data.params.source', 'sweep.grid'])}=${pick(rng, ['1', '.nan', '[1', 'x', '-5', '{a: 1}', ''])}`] : [];
  return { text, set };
}

test(`${CONFIGS} generated configs: validate ends with 0 or 2, one line per problem, no stack trace`, async (t) => {
  const rng = Rng.from('fuzz-configs', 1);
  const dir = tmp('attrib-fuzz-');
  const codes = new Map<number | null, number>();
  for (let i = 0; i < CONFIGS; i++) {
    const { text, set } = mutatedConfig(rng.split(i));
    const path = join(dir, `c${i}.yaml`);
    writeFileSync(path, text);
    const r = await attribInProcess(['validate', path, ...set.flatMap((s) => ['--set', s])], dir);
    codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    const what = `case ${i} (${path}, --set ${set.join(' ')}):\n${r.stderr}`;
    if (!(r.code === 0 || r.code === 2)) t.fail(`exit ${r.code}: ${what}`);
    if (!stackFree(r)) t.fail(`stack trace: ${what}`);
    if (r.code === 2 && r.stderr.trim() === '') t.fail(`exit 2 without a message: ${what}`);
  }
  t.log('exit codes:', JSON.stringify([...codes]));
  // The generator reaches both outcomes (not only junk, not only valid configs).
  t.true((codes.get(0) ?? 0) > 0 && (codes.get(2) ?? 0) > 0, JSON.stringify([...codes]));
});

/** Tiny data files, most of them broken in one way; `broken` when the data stage must refuse it. */
function dataCase(rng: Rng, dir: string, i: number): { source: Record<string, unknown>; note: string; broken: boolean } {
  const n = 20 + rng.int(20);
  const d = 1 + rng.int(4);
  if (rng.uniform() < 0.5) {
    const rows = Array.from({ length: n }, (_, r) => [...Array.from({ length: d }, () => (rng.normal() * 3).toFixed(3)), String(r % 3)]);
    const header = [...Array.from({ length: d }, (_, j) => `f${j}`), 'label'];
    const fault = rng.int(9);
    const r = rng.int(n);
    if (fault === 1) rows[r]![rng.int(d)] = pick(rng, ['NaN', 'inf', '', 'abc', '1e999']);
    const label = pick(rng, ['-1', '1.5', '', '1e9', '99999999999', 'cat']);
    if (fault === 2) rows[r]![d] = label;
    if (fault === 3) rows[r]!.pop();
    if (fault === 4) for (const row of rows) row[d] = '0';
    let text = [header, ...rows].map((row) => row.join(',')).join('\n');
    if (fault === 5) text = text.slice(0, rng.int(text.length));
    if (fault === 6) text = '\uFEFF"a,b\n' + text;
    if (fault === 7) text = '';
    const path = join(dir, `d${i}.csv`);
    writeFileSync(path, text);
    // 'cat' among numbers is a class name; a cut or garbled file may still hold a valid table.
    const broken = [1, 3, 4, 7].includes(fault) || (fault === 2 && label !== 'cat');
    return { source: { kind: 'csv', path }, note: `csv fault ${fault}`, broken };
  }
  const shape = rng.uniform() < 0.8 ? [n, d] : rng.uniform() < 0.5 ? [n] : [n, 2, 2, 2, 2];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: size }, () => rng.normal());
  const y = Int32Array.from({ length: n }, (_, r) => r % 3);
  const fault = rng.int(8);
  if (fault === 1) x[rng.int(size)] = pick(rng, [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  const label = pick(rng, [-1, 1e9, 3]);
  if (fault === 2) y[rng.int(n)] = label;
  if (fault === 3) y.fill(0);
  const xPath = join(dir, `x${i}.npy`);
  const yPath = join(dir, `y${i}.npy`);
  writeNpy(xPath, x, shape);
  writeNpy(yPath, fault === 4 ? y.subarray(0, n - 1) : y);
  if (fault === 5) writeFileSync(xPath, readFileSync(xPath).subarray(0, 60 + rng.int(200))); // truncated
  if (fault === 6) {
    // A dtype the reader does not take (complex64), same byte length as float32 pairs.
    const bytes = readFileSync(xPath);
    writeFileSync(xPath, Buffer.from(bytes.toString('latin1').replace("'<f4'", "'<c8'"), 'latin1'));
  }
  if (fault === 7) writeFileSync(yPath, Buffer.from('not a numpy file at all'));
  // A label 3 among 0..2 is a fourth class, not a mistake.
  const broken = shape.length !== 2 || (fault > 0 && !(fault === 2 && label === 3));
  return { source: { kind: 'npy', x: xPath, y: yPath }, note: `npy shape [${shape.join(', ')}] fault ${fault}`, broken };
}

function dataConfig(source: Record<string, unknown>): string {
  return stringify({
    name: 'fuzzdata',
    backend: 'cpu',
    stages: {
      data: { kind: 'dataset', params: { source, train: 12, test: 6 } },
      masks: { kind: 'subsets', inputs: { data: 'data' }, params: { count: 2, alpha: 0.5 } },
    },
  });
}

test(`${DATA_FILES} generated data files: run ends with 0, 1 (with the stage's message) or 2, no stack trace`, async (t) => {
  const rng = Rng.from('fuzz-data', 1);
  const dir = tmp('attrib-fuzz-data-');
  const codes = new Map<number | null, number>();
  for (let i = 0; i < DATA_FILES; i++) {
    const { source, note, broken } = dataCase(rng.split(i), dir, i);
    const path = join(dir, `run${i}.yaml`);
    writeFileSync(path, dataConfig(source));
    const r = await attribInProcess(['run', path, '--runs', join(dir, `runs${i}`), '--executor', 'inline'], dir);
    codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    const what = `case ${i} (${note}, ${path}):\n${r.stderr}\n${r.stdout}`;
    if (!(r.code === 0 || r.code === 1 || r.code === 2)) t.fail(`exit ${r.code}: ${what}`);
    if (!stackFree(r)) t.fail(`stack trace: ${what}`);
    if (r.code === 1 && !/failed/i.test(r.stderr + r.stdout)) t.fail(`exit 1 without a message: ${what}`);
    if (broken && r.code === 0) t.fail(`broken data accepted: ${what}`);
  }
  t.log('exit codes:', JSON.stringify([...codes]));
  t.true((codes.get(0) ?? 0) > 0 && (codes.get(1) ?? 0) + (codes.get(2) ?? 0) > 0, JSON.stringify([...codes]));
});

test('the same through the real executable: a hostile config and a broken data file', async (t) => {
  const dir = tmp('attrib-fuzz-real-');
  const rng = Rng.from('fuzz-real', 1);
  for (let i = 0; i < 3; i++) {
    const { text } = mutatedConfig(rng.split(i));
    writeFileSync(join(dir, `c${i}.yaml`), text);
    const r = await cli(['validate', `c${i}.yaml`], { cwd: dir });
    t.true(r.code === 0 || r.code === 2, `case ${i}: exit ${r.code}\n${r.stderr}`);
    t.true(stackFree(r), r.stderr);
  }
  const x = Float32Array.from({ length: 40 }, (_, j) => (j === 13 ? Number.NaN : j));
  writeNpy(join(dir, 'x.npy'), x, [20, 2]);
  writeNpy(join(dir, 'y.npy'), Int32Array.from({ length: 20 }, (_, j) => j % 2));
  writeFileSync(join(dir, 'run.yaml'), dataConfig({ kind: 'npy', x: 'x.npy', y: 'y.npy' }));
  const r = await cli(['run', 'run.yaml', '--runs', join(dir, 'runs'), '--executor', 'inline'], { cwd: dir });
  t.is(r.code, 1, r.stderr);
  t.true(stackFree(r), r.stderr);
  t.true(r.stderr.includes('x.npy: row 6 has NaN at feature 1; features must be finite numbers'), r.stderr);
});
