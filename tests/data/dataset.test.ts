/**
 * The dataset kind: deterministic splits stored as index files, sizes it cannot
 * provide are clear errors, normalization fitted on train only, and each source.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { paramsSchema, Registry } from '../../pipeline/registry.ts';
import { DATASET, type DatasetMeta } from '../../lib/artifacts.ts';
import { dataset } from '../../stages/dataset.ts';
import { loadDataset, loadSource as loadFrom, resolveSource, type DataSource } from '../../lib/data/index.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { DATA_SOURCES } from '../../stages/extensions.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { readIdx } from '../../lib/data/sources/mnist-full.ts';
import { runStage } from '../helpers/run-stage.ts';
import { builtins } from '../helpers/builtins.ts';

/** A built-in source's examples. */
const loadSource = (value: Parameters<typeof loadFrom>[1]) => loadFrom(builtins().extensions(DATA_SOURCES), value);

const fixtures = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const read = (dir: string, name: string) => readNpy(join(dir, name));
const max = (a: Float32Array) => a.reduce((m, v) => Math.max(m, v), -Infinity);
const min = (a: Float32Array) => a.reduce((m, v) => Math.min(m, v), Infinity);
const meta = (dir: string) => JSON.parse(readFileSync(join(dir, DATASET.meta), 'utf8')) as DatasetMeta;

test('a split is deterministic, disjoint, and changes with its seed', async (t) => {
  const params = { source: { kind: 'synthetic', dim: 4, n: 60 }, train: 30, test: 20 };
  const a = await runStage(dataset, { params });
  const b = await runStage(dataset, { params });
  const c = await runStage(dataset, { params, seed: 1 });
  for (const name of [DATASET.xTrain, DATASET.yTrain, DATASET.xTest, DATASET.yTest, DATASET.trainIndex, DATASET.testIndex]) {
    t.deepEqual(read(a.dir, name), read(b.dir, name), name);
  }
  const train = read(a.dir, DATASET.trainIndex).data as Int32Array;
  const test = read(a.dir, DATASET.testIndex).data as Int32Array;
  t.is(train.length, 30);
  t.is(test.length, 20);
  t.is(new Set([...train, ...test]).size, 50, 'train and test rows are distinct');
  t.notDeepEqual(read(c.dir, DATASET.trainIndex).data, train, 'another experiment seed, another split');
  // An explicit split seed does not depend on the experiment seed.
  const d = await runStage(dataset, { params: { ...params, seed: 7 } });
  const e = await runStage(dataset, { params: { ...params, seed: 7 }, seed: 3 });
  t.deepEqual(read(d.dir, DATASET.trainIndex), read(e.dir, DATASET.trainIndex));
});

test('the stored rows are the source rows the index files name', async (t) => {
  const a = await runStage(dataset, { params: { source: 'iris', train: 100, test: 50, normalize: 'none' } });
  const source = await loadSource('iris');
  const ds = loadDataset(a.dir);
  t.deepEqual(ds.meta.featureShape, [4]);
  t.is(ds.meta.classes, 3);
  t.deepEqual(ds.meta.classNames, ['setosa', 'versicolor', 'virginica']);
  for (const r of [0, 17, 99]) {
    const i = ds.trainIndex[r];
    t.deepEqual(Array.from(ds.xTrain.subarray(r * 4, r * 4 + 4)), Array.from(source.pool!.x.subarray(i * 4, i * 4 + 4)));
    t.is(ds.yTrain[r], source.pool!.y[i]);
  }
  t.is(a.outcome.info?.backend !== undefined, true);
});

test('sizes a source cannot provide are clear errors', async (t) => {
  await t.throwsAsync(runStage(dataset, { params: { source: 'iris', train: 120, test: 40 } }), { message: /iris has 150 examples: train 120 \+ test 40 = 160 exceeds it/ });
  await t.throwsAsync(runStage(dataset, { params: { source: 'iris' } }), { message: /one pool of 150 examples: give both train and test/ });
  const csv = { kind: 'csv', train: join(fixtures, 'table.csv'), test: join(fixtures, 'table_test.csv'), label: 'kind', ignore: ['id'] };
  await t.throwsAsync(runStage(dataset, { params: { source: csv, train: 7 } }), { message: /has 6 train examples: cannot provide train 7/ });
  t.throws(() => paramsSchema(dataset, builtins()).parse({ source: 'imagenet', train: 1, test: 1 }), { message: /Invalid discriminator value/ });
  t.throws(() => paramsSchema(dataset, builtins()).parse({ source: { kind: 'mnist', path: 'x' }, train: 1, test: 1 }), { message: /Unrecognized key/ });
});

test('normalization is fitted on train only and recorded', async (t) => {
  const a = await runStage(dataset, { params: { source: { kind: 'synthetic', dim: 3, n: 200, separation: 5 }, train: 150, test: 50 } });
  const ds = loadDataset(a.dir);
  t.is(ds.meta.normalization?.kind, 'standardize');
  for (let j = 0; j < 3; j++) {
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < 150; i++) mean += ds.xTrain[i * 3 + j] / 150;
    for (let i = 0; i < 150; i++) sq += (ds.xTrain[i * 3 + j] - mean) ** 2 / 150;
    t.true(Math.abs(mean) < 1e-5 && Math.abs(sq - 1) < 1e-4, `feature ${j}: mean ${mean}, var ${sq}`);
  }
  const m = await runStage(dataset, { params: { source: { kind: 'synthetic', dim: 3, n: 200 }, train: 150, test: 50, normalize: 'minmax' } });
  const x = loadDataset(m.dir).xTrain;
  t.is(min(x), 0);
  t.true(Math.abs(max(x) - 1) < 1e-6);
});

test('mnist: 28×28×1 images in [0, 1], 10 classes, left as they are', async (t) => {
  const a = await runStage(dataset, { params: { source: 'mnist', train: 200, test: 100 } });
  const ds = loadDataset(a.dir);
  t.deepEqual(ds.meta.featureShape, [28, 28, 1]);
  t.is(ds.meta.normalization?.kind, 'none');
  t.deepEqual(read(a.dir, DATASET.xTrain).shape, [200, 28, 28, 1]);
  t.true(max(ds.xTrain) <= 1 && min(ds.xTrain) >= 0);
  t.is(new Set(ds.yTrain).size, 10);
  t.is((await loadSource('mnist')).pool!.n, 10000);
});

test('fashion-mnist: all 70,000 images from the package JSON, bytes scaled to [0, 1]', async (t) => {
  const source = await loadSource('fashion-mnist');
  t.is(source.pool!.n, 70000, 'class 0 has two empty rows in the package JSON, which are skipped');
  t.true(source.pool!.x instanceof Uint8Array);
  const counts = new Array(10).fill(0);
  for (const y of source.pool!.y) counts[y]++;
  t.true(counts.every((c) => c === 7000), counts.join(','));
  t.is(await loadSource('fashion-mnist'), source, 'cached within the process');
  const a = await runStage(dataset, { params: { source: 'fashion-mnist', train: 100, test: 20 } });
  const ds = loadDataset(a.dir);
  t.true(max(ds.xTrain) <= 1 && max(ds.xTrain) > 0.9);
});

test('mnist-full: LeCun\'s 60,000 / 10,000 in file order; take: first gives the first rows, as dattri\'s benchmark', async (t) => {
  const source = await loadSource('mnist-full');
  t.is(source.train!.n, 60000);
  t.is(source.test!.n, 10000);
  // MNIST's published class counts of the training set, and its first labels.
  const counts = new Array(10).fill(0);
  for (const y of source.train!.y) counts[y]++;
  t.deepEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  t.deepEqual(Array.from(source.train!.y.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  t.deepEqual(Array.from(source.test!.y.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  t.is(source.files!.length, 4);

  const first = await runStage(dataset, { params: { source: 'mnist-full', train: 50, test: 10, take: 'first' } });
  const ds = loadDataset(first.dir);
  t.is(ds.meta.split, 'given');
  t.deepEqual(Array.from(ds.trainIndex), Array.from({ length: 50 }, (_, i) => i));
  t.deepEqual(Array.from(ds.testIndex), Array.from({ length: 10 }, (_, i) => i));
  t.deepEqual(Array.from(ds.yTest), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  t.true(max(ds.xTrain) <= 1 && max(ds.xTrain) > 0.99 && min(ds.xTrain) === 0);
  // The default takes a seeded subset of each part, kept in file order.
  const random = loadDataset((await runStage(dataset, { params: { source: 'mnist-full', train: 50, test: 10, seed: 1 } })).dir);
  t.notDeepEqual(Array.from(random.trainIndex), Array.from(ds.trainIndex));
  t.deepEqual(Array.from(random.trainIndex), Array.from(random.trainIndex).sort((a, b) => a - b));
});

test('mnist-full refuses an IDX file that is not MNIST\'s, naming the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-idx-'));
  const file = join(dir, 'train-labels-idx1-ubyte');
  writeFileSync(file, Buffer.from([0, 0, 8, 1, 0, 0, 0, 2, 5, 0]));
  const spec = { name: 'train-labels-idx1-ubyte', n: 60000, sha256: 'ab'.repeat(32) } as const;
  const e = t.throws(() => readIdx(file, spec, [60000]));
  t.regex(e!.message, new RegExp(`^source mnist-full: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not MNIST's train-labels-idx1-ubyte \\(sha256 [0-9a-f]{12}…, expected abababababab…\\)$`));
});

test('take: first on a pool: its first train rows, then the next test rows', async (t) => {
  const a = loadDataset((await runStage(dataset, { params: { source: { kind: 'synthetic', dim: 4, n: 60 }, train: 30, test: 20, take: 'first' } })).dir);
  t.deepEqual(Array.from(a.trainIndex), Array.from({ length: 30 }, (_, i) => i));
  t.deepEqual(Array.from(a.testIndex), Array.from({ length: 20 }, (_, i) => 30 + i));
});

test('csv: train and test files used as given, string labels, quoted headers, sha256 recorded and pinned', async (t) => {
  const source = { kind: 'csv', train: join(fixtures, 'table.csv'), test: join(fixtures, 'table_test.csv'), label: 'kind', ignore: ['id'] };
  const a = await runStage(dataset, { params: { source, normalize: 'none' } });
  const ds = loadDataset(a.dir);
  t.is(ds.meta.split, 'given');
  t.deepEqual(ds.meta.featureNames, ['width, cm', 'height']);
  t.deepEqual(ds.meta.classNames, ['bird', 'cat', 'dog']);
  t.deepEqual(Array.from(ds.trainIndex), [0, 1, 2, 3, 4, 5]);
  t.deepEqual(Array.from(ds.yTrain), [1, 2, 1, 0, 2, 1]);
  t.deepEqual(Array.from(ds.xTest), [7.5, 70, 8.5, 80]);
  t.deepEqual(Array.from(ds.yTest), [2, 0]);
  const files = ds.meta.files!;
  t.is(files.length, 2);
  t.regex(files[0].sha256, /^[0-9a-f]{64}$/);
  t.deepEqual((a.outcome.info as { files: unknown }).files, files);
  const pinned = { ...source, sha256: { train: files[0].sha256, test: files[1].sha256 } };
  await t.notThrowsAsync(runStage(dataset, { params: { source: pinned } }));
  const wrong = { ...source, sha256: { train: '0'.repeat(64), test: files[1].sha256 } };
  await t.throwsAsync(runStage(dataset, { params: { source: wrong } }), { message: /the file changed/ });
  // One file: a random split of the pool.
  const b = await runStage(dataset, { params: { source: { kind: 'csv', path: join(fixtures, 'table.csv'), label: 3, ignore: [0] }, train: 4, test: 2 } });
  t.is(meta(b.dir).split, 'random');
  await t.throwsAsync(runStage(dataset, { params: { source: { kind: 'csv', path: join(fixtures, 'missing.csv') }, train: 1, test: 1 } }), { message: /cannot read .*missing\.csv.*no such file/ });
});

test('csv groupColumn: group ids per example (sorted names, empty = none) in group_train/group_test.npy', async (t) => {
  const a = await runStage(dataset, { params: { source: { kind: 'csv', path: join(fixtures, 'groups.csv'), groupColumn: 'policy' }, train: 4, test: 2 } });
  const ds = loadDataset(a.dir);
  t.deepEqual(ds.meta.groups, { name: 'policy', names: ['expert', 'random'] });
  t.deepEqual(ds.meta.featureNames, ['x1', 'x2']);
  const byRow = [0, 1, 0, -1, 1, 0];
  t.deepEqual(Array.from(read(a.dir, DATASET.groupTrain).data), Array.from(ds.trainIndex, (i) => byRow[i]));
  t.deepEqual(Array.from(read(a.dir, DATASET.groupTest).data), Array.from(ds.testIndex, (i) => byRow[i]));
  const plain = await runStage(dataset, { params: { source: 'iris', train: 10, test: 5 } });
  t.is(loadDataset(plain.dir).meta.groups, undefined);
});

test('npy: NCHW uint8 images with int64 labels become HWC in [0, 1]; test arrays used as given', async (t) => {
  const a = await runStage(dataset, { params: { source: { kind: 'npy', x: join(fixtures, 'images_nchw_x.npy'), y: join(fixtures, 'images_y_int64.npy') }, train: 8, test: 4 } });
  const ds = loadDataset(a.dir);
  t.deepEqual(ds.meta.featureShape, [4, 5, 3]);
  t.true(ds.meta.image);
  t.is(ds.meta.classes, 4);
  // make.py: x[5, channel 1, row 2, col 3] = 8, at HWC offset (2·5 + 3)·3 + 1.
  const all = [...ds.trainIndex, ...ds.testIndex];
  const r = all.indexOf(5);
  const x = r < 8 ? ds.xTrain : ds.xTest;
  const row = r < 8 ? r : r - 8;
  t.true(Math.abs(x[row * 60 + (2 * 5 + 3) * 3 + 1] - 8 / 255) < 1e-7);
  const b = await runStage(dataset, {
    params: { source: { kind: 'npy', x: join(fixtures, 'tab_x.npy'), y: join(fixtures, 'tab_y.npy'), xTest: join(fixtures, 'tab_x_test.npy'), yTest: join(fixtures, 'tab_y_test.npy') }, normalize: 'none' },
  });
  const tab = loadDataset(b.dir);
  t.is(tab.meta.nTrain, 10);
  t.deepEqual(Array.from(tab.yTest), [0, 1, 1, 0]);
  t.is(tab.meta.files?.length, 4);
});

test('synthetic: same options, same data; teacher and blobs', async (t) => {
  const a = await loadSource({ kind: 'synthetic', generator: 'teacher', dim: 5, classes: 4, n: 300, temperature: 0 } as never);
  const b = await loadSource({ kind: 'synthetic', generator: 'teacher', dim: 5, classes: 4, n: 300, temperature: 0, seed: 0 } as never);
  t.deepEqual(a.pool!.x, b.pool!.x);
  t.deepEqual(a.pool!.y, b.pool!.y);
  t.true(new Set(a.pool!.y).size >= 3);
  const c = await loadSource({ kind: 'synthetic', n: 300, seed: 1 } as never);
  t.notDeepEqual(c.pool!.x.subarray(0, 10), a.pool!.x.subarray(0, 10));
});

/** A plugin's source: n copies of one example per class. */
const constantSource: DataSource<{ kind: 'constant-test'; n: number }> = {
  name: 'constant-test',
  description: 'n copies of one example per class',
  options: z.strictObject({ kind: z.literal('constant-test'), n: z.number().int().default(10) }),
  load: (o) => ({
    featureShape: [2],
    classes: 2,
    image: false,
    pool: { x: Float32Array.from({ length: o.n * 2 }, (_, i) => (i >> 1) % 2), y: Int32Array.from({ length: o.n }, (_, i) => i % 2), n: o.n },
  }),
};

test('a plugin source registered through the registry is accepted by the dataset schema', async (t) => {
  const registry = new Registry();
  registerBuiltins(registry);
  registry.register(DATA_SOURCES, 'constant-test', constantSource);
  t.is(registry.extensions(DATA_SOURCES).get('constant-test'), constantSource);
  const a = await runStage(dataset, { registry, params: { source: 'constant-test', train: 6, test: 4, normalize: 'none' } });
  t.is(meta(a.dir).source, 'constant-test');
  t.is(meta(a.dir).nTrain, 6);
});

test('a source registered in one registry is unknown in another in the same process', (t) => {
  const a = new Registry();
  const b = new Registry();
  registerBuiltins(a);
  registerBuiltins(b);
  a.register(DATA_SOURCES, 'constant-test', constantSource);
  t.true(a.extensions(DATA_SOURCES).has('constant-test'));
  t.false(b.extensions(DATA_SOURCES).has('constant-test'));
  const params = { source: 'constant-test', train: 6, test: 4 };
  t.true(paramsSchema(dataset, a).safeParse(params).success);
  t.throws(() => paramsSchema(dataset, b).parse(params), { message: /Invalid discriminator value/ });
  t.throws(() => resolveSource(b.extensions(DATA_SOURCES), 'constant-test'), { message: /^unknown data source "constant-test": expected one of mnist, / });
});
