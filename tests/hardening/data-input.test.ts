/**
 * Hostile data files (issue 16): the data stage refuses non-finite features and labels
 * that are not class indices, naming the file and row of the first bad one, and needs at
 * least two classes; nothing reaches training to fail there with a misleading message.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadSource } from '../../lib/data/index.ts';
import { writeNpy } from '../../lib/io/npy.ts';
import { DATA_SOURCES } from '../../stages/extensions.ts';
import { builtins } from '../helpers/builtins.ts';
import { tmp } from '../helpers/rig.ts';

const sources = () => builtins().extensions(DATA_SOURCES);

/** The error message of loading a source, or undefined when it loads. */
async function problem(source: { kind: string }): Promise<string | undefined> {
  try {
    await loadSource(sources(), source);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function npyFiles(x: Float32Array | Float64Array, shape: number[], y: Int32Array | Float64Array | BigInt64Array) {
  const dir = tmp();
  writeNpy(join(dir, 'x.npy'), x, shape);
  if (y instanceof BigInt64Array) {
    // numpy's default int64 labels, written by hand (the core writer has no int64).
    const header = `{'descr': '<i8', 'fortran_order': False, 'shape': (${y.length},), }`.padEnd(118, ' ') + '\n';
    const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.from([header.length & 0xff, header.length >> 8]), Buffer.from(header, 'latin1')]);
    writeFileSync(join(dir, 'y.npy'), Buffer.concat([head, Buffer.from(y.buffer)]));
  } else writeNpy(join(dir, 'y.npy'), y);
  return { kind: 'npy', x: join(dir, 'x.npy'), y: join(dir, 'y.npy') };
}

const x6 = () => Float32Array.from({ length: 12 }, (_, i) => i);

test('npy features: NaN or Infinity is refused with the file and row', async (t) => {
  const x = x6();
  x[7] = NaN;
  const s = npyFiles(x, [6, 2], Int32Array.from([0, 1, 0, 1, 0, 1]));
  t.is(await problem(s), `source npy: ${s.x}: row 3 has NaN at feature 1; features must be finite numbers`);
  const big = npyFiles(Float64Array.from({ length: 12 }, (_, i) => (i === 4 ? 1e300 : i)), [6, 2], Int32Array.from([0, 1, 0, 1, 0, 1]));
  // float64 1e300 is Infinity as float32.
  t.is(await problem(big), `source npy: ${big.x}: row 2 has Infinity at feature 0; features must be finite numbers`);
});

test('npy labels: beyond the classes, huge, or a single class are refused', async (t) => {
  const huge = npyFiles(x6(), [6, 2], Float64Array.from([0, 1, 0, 1e9, 0, 1]));
  t.is(await problem(huge), `source npy: ${huge.y}: label 1000000000 at row 3 is not a class index (expected 0..99999)`);
  const huge64 = npyFiles(x6(), [6, 2], BigInt64Array.from([0n, 1n, 0n, 1n, 200000n, 1n]));
  t.is(await problem(huge64), `source npy: ${huge64.y}: label 200000 at row 4 is not a class index (expected 0..99999)`);
  const given = npyFiles(x6(), [6, 2], Int32Array.from([0, 1, 2, 1, 0, 1]));
  t.is(await problem({ ...given, classes: 2 } as { kind: string }), `source npy: ${given.y}: label 2 at row 2 is not a class index (expected 0..1, as classes is 2)`);
  const one = npyFiles(x6(), [6, 2], Int32Array.from([0, 0, 0, 0, 0, 0]));
  t.is(await problem(one), 'source npy: every example has the same label; attribution needs at least 2 classes');
  const fine = npyFiles(x6(), [6, 2], BigInt64Array.from([0n, 1n, 2n, 1n, 0n, 1n]));
  t.is(await problem(fine), undefined);
});

test('npy: truncated int64 labels are refused, not read short', async (t) => {
  const s = npyFiles(x6(), [6, 2], BigInt64Array.from([0n, 1n, 0n, 1n, 0n, 1n]));
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(s.y);
  writeFileSync(s.y, bytes.subarray(0, bytes.length - 5));
  t.regex((await problem(s))!, /y\.npy: \d+ bytes, but its header \(<i8 \[6\]\) needs \d+: truncated or corrupt$/);
});

function csvFile(text: string): { kind: string; path: string } {
  const path = join(tmp(), 'd.csv');
  writeFileSync(path, text);
  return { kind: 'csv', path };
}

test('csv labels: -1, 1.5, empty or huge numbers are refused with file:line; names still work', async (t) => {
  const minus = csvFile('a,b,label\n1,2,0\n3,4,1\n5,6,-1\n');
  t.is(await problem(minus), `${minus.path}:4: label "-1" in column "label" is not a class index (numeric labels must be integers 0..99999; names are mapped to classes)`);
  const half = csvFile('a,b,label\n1,2,0\n3,4,1.5\n5,6,1\n');
  t.is(await problem(half), `${half.path}:3: label "1.5" in column "label" is not a class index (numeric labels must be integers 0..99999; names are mapped to classes)`);
  const empty = csvFile('a,b,label\n1,2,0\n3,4,\n5,6,1\n');
  t.is(await problem(empty), `${empty.path}:3: the label column "label" is empty`);
  const huge = csvFile('a,b,label\n1,2,0\n3,4,1000000000\n');
  t.regex((await problem(huge))!, /d\.csv:3: label "1000000000" in column "label" is not a class index/);
  const single = csvFile('a,b,label\n1,2,cat\n3,4,cat\n');
  t.is(await problem(single), 'source csv: every example has the same label; attribution needs at least 2 classes');
  t.is(await problem(csvFile('a,b,label\n1,2,cat\n3,4,dog\n')), undefined);
});
