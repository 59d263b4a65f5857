/** lib/io/atomic.ts: the one atomic writer, and the temporary names the store cleans up. */
import test from 'ava';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, TEMP_MARK, tempName, tempOwner, writeFileAtomic } from '../../lib/io/atomic.ts';
import { writeJsonAtomic } from '../../lib/io/json.ts';
import { tmp } from '../helpers/rig.ts';

test('writes text and bytes in place, replacing the old file, leaving no temporary name', (t) => {
  const dir = tmp();
  const path = join(dir, 'a.json');
  writeFileAtomic(path, 'old');
  writeJsonAtomic(path, { b: [1, 2] });
  t.is(readFileSync(path, 'utf8'), '{\n  "b": [\n    1,\n    2\n  ]\n}\n');
  writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([0, 255, 7]));
  t.deepEqual([...readFileSync(join(dir, 'b.bin'))], [0, 255, 7]);
  t.deepEqual(readdirSync(dir).sort(), ['a.json', 'b.bin']);
});

test('a write that cannot land leaves nothing behind', (t) => {
  const dir = tmp();
  mkdirSync(join(dir, 'taken'));
  // Renaming a file onto a folder fails after the temporary file was written.
  t.throws(() => writeFileAtomic(join(dir, 'taken'), 'x'));
  t.deepEqual(readdirSync(dir), ['taken']);
  t.throws(() => writeFileAtomic(join(dir, 'missing', 'f'), 'x'), { code: 'ENOENT' });
  t.deepEqual(readdirSync(dir), ['taken']);
});

test('temporary names sit beside the target, carry the mark and their writer pid', (t) => {
  const name = tempName('/x/y/stage.json');
  t.true(name.startsWith('/x/y/.stage.json.tmp-'));
  t.true(name.includes(TEMP_MARK));
  t.is(tempOwner(name.slice('/x/y/'.length)), process.pid);
  t.is(tempOwner('stage.json'), undefined);
  t.true(processAlive(process.pid));
});
