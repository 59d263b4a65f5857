import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NpyError, NpyWriter, readNpy, readNpyChunks, readNpyHeader, readNpyRows, writeNpy, type DType, type NdArray } from '../../lib/io/npy.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/numeric/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const PYTHON = '/usr/bin/python3';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'attrib-npy-'));
}

test('reads every supported dtype written by numpy', (t) => {
  const f32 = readNpy(fixture('f32.npy'));
  t.is(f32.dtype, 'float32');
  t.deepEqual(f32.shape, [3, 4]);
  t.deepEqual(Array.from(f32.data), Array.from({ length: 12 }, (_, i) => i / 8 - 0.5));

  const f64 = readNpy(fixture('f64.npy'));
  t.is(f64.dtype, 'float64');
  t.deepEqual(Array.from(f64.data), [1e-300, -2.5, Math.PI, Infinity, -0, 7]);

  const i32 = readNpy(fixture('i32.npy'));
  t.is(i32.dtype, 'int32');
  t.deepEqual(Array.from(i32.data), [-2147483648, -1, 0, 1, 2147483647]);

  const u8 = readNpy(fixture('u8.npy'));
  t.is(u8.dtype, 'uint8');
  t.deepEqual(u8.shape, [2, 3]);
  t.deepEqual(Array.from(u8.data), [250, 251, 252, 253, 254, 255]);

  const b = readNpy(fixture('bool.npy'));
  t.is(b.dtype, 'bool');
  t.deepEqual(Array.from(b.data), [1, 0, 1, 1]);

  const s = readNpy(fixture('scalar.npy'));
  t.deepEqual(s.shape, []);
  t.deepEqual(Array.from(s.data), [3.25]);

  const e = readNpy(fixture('empty.npy'));
  t.deepEqual(e.shape, [0, 3]);
  t.is(e.data.length, 0);

  const v2 = readNpy(fixture('v2.npy'));
  t.deepEqual(v2.shape, [2, 3]);
  t.deepEqual(Array.from(v2.data), [0, 1, 2, 3, 4, 5]);
});

test('rejects what it cannot read with a clear message', (t) => {
  t.throws(() => readNpy(fixture('fortran.npy')), { instanceOf: NpyError, message: /Fortran-order/ });
  t.throws(() => readNpy(fixture('bigendian.npy')), { instanceOf: NpyError, message: /unsupported dtype >f4/ });
  t.throws(() => readNpy(fixture('int64.npy')), { instanceOf: NpyError, message: /unsupported dtype <i8/ });
  t.throws(() => readNpy(join(FIXTURES, 'missing.npy')), { instanceOf: NpyError, message: /file not found/ });
});

test('a truncated or padded file is an error naming sizes, not garbage', (t) => {
  const dir = tmp();
  try {
    const path = join(dir, 'x.npy');
    writeNpy(path, new Float32Array(100), [10, 10]);
    const full = readFileSync(path).length;
    truncateSync(path, full - 4);
    t.throws(() => readNpy(path), { instanceOf: NpyError, message: /size \d+ bytes does not match its header .*truncated or corrupt/ });
    t.throws(() => readNpyRows(path, 0, 1), { instanceOf: NpyError });
    writeFileSync(path, Buffer.concat([readFileSync(fixture('f32.npy')), Buffer.from([0, 0, 0, 0])]));
    t.throws(() => readNpyHeader(path), { instanceOf: NpyError, message: /does not match/ });
    writeFileSync(path, Buffer.from('not an array at all'));
    t.throws(() => readNpy(path), { instanceOf: NpyError, message: /bad magic/ });
    writeFileSync(path, readFileSync(fixture('f32.npy')).subarray(0, 40));
    t.throws(() => readNpy(path), { instanceOf: NpyError, message: /truncated \.npy header/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const samples: NdArray[] = [
  { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2, 3e-8, 4, 5, 6]) },
  { dtype: 'float64', shape: [3], data: Float64Array.from([Math.E, -1e300, 0]) },
  { dtype: 'int32', shape: [2, 2, 2], data: Int32Array.from([0, -1, 2, -3, 4, 5, 2147483647, -2147483648]) },
  { dtype: 'uint8', shape: [4, 1], data: Uint8Array.from([0, 1, 128, 255]) },
  { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) },
  { dtype: 'float32', shape: [0, 5], data: new Float32Array(0) },
  { dtype: 'float64', shape: [], data: Float64Array.from([42]) },
];

test('round trip of every dtype, and no temporary file left behind', (t) => {
  const dir = tmp();
  try {
    samples.forEach((arr, i) => {
      const path = join(dir, `a${i}.npy`);
      writeNpy(path, arr);
      const back = readNpy(path);
      t.is(back.dtype, arr.dtype);
      t.deepEqual(back.shape, arr.shape);
      t.deepEqual(Array.from(back.data), Array.from(arr.data));
      t.is(readNpyHeader(path).offset % 64, 0, 'data starts 64-byte aligned, as numpy writes');
    });
    t.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('row-chunked appends, row ranges and chunked reads', (t) => {
  const dir = tmp();
  try {
    const path = join(dir, 'rows.npy');
    const w = new NpyWriter(path, 'float32', [3]);
    t.false(existsSync(path), 'nothing at the final name before close');
    for (let c = 0; c < 5; c++) w.append(Float32Array.from({ length: 3 * (c + 1) }, (_, i) => c * 100 + i));
    t.is(w.rowCount, 15);
    w.close();
    const all = readNpy(path);
    t.deepEqual(all.shape, [15, 3]);
    const rows = readNpyRows(path, 3, 6);
    t.deepEqual(rows.shape, [3, 3]);
    t.deepEqual(Array.from(rows.data), Array.from(all.data.subarray(9, 18)));
    const seen: number[] = [];
    for (const { start, end, array } of readNpyChunks(path, 4)) {
      t.deepEqual(array.shape, [end - start, 3]);
      seen.push(...array.data);
    }
    t.deepEqual(seen, Array.from(all.data));
    t.throws(() => readNpyRows(path, 10, 16), { instanceOf: NpyError, message: /out of range/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writer misuse is an error and leaves nothing behind', (t) => {
  const dir = tmp();
  try {
    const path = join(dir, 'bad.npy');
    const w = new NpyWriter(path, 'float32', [4]);
    t.throws(() => w.append(new Float32Array(3)), { message: /whole number of rows/ });
    t.throws(() => w.append(new Float64Array(4)), { message: /expected float32 data, got float64/ });
    w.append(new Float32Array(8));
    t.throws(() => w.close(3), { message: /closed with 3 rows but 2 were appended/ });
    t.false(existsSync(path));
    t.deepEqual(readdirSync(dir), []);
    const a = new NpyWriter(path, 'int32', []);
    a.append(new Int32Array(2));
    a.abort();
    t.deepEqual(readdirSync(dir), []);
    t.throws(() => writeNpy(path, new Float32Array(5), [2, 3]), { message: /does not match 5 elements/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('numpy reads what attrib writes', (t) => {
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import numpy']).status !== 0) {
    t.pass('no python3 with numpy here');
    return;
  }
  const dir = tmp();
  try {
    samples.forEach((arr, i) => writeNpy(join(dir, `a${i}.npy`), arr));
    const script = `
import json, sys, numpy as np
out = []
for i in range(${samples.length}):
    a = np.load(sys.argv[1] + f"/a{i}.npy")
    out.append({"dtype": str(a.dtype), "shape": list(a.shape), "data": [float(v) for v in a.ravel()]})
print(json.dumps(out))`;
    const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { dtype: string; shape: number[]; data: number[] }[];
    const numpyName: Record<DType, string> = { float32: 'float32', float64: 'float64', int32: 'int32', uint8: 'uint8', bool: 'bool' };
    samples.forEach((arr, i) => {
      t.is(got[i].dtype, numpyName[arr.dtype]);
      t.deepEqual(got[i].shape, arr.shape);
      t.deepEqual(got[i].data, Array.from(arr.data));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
