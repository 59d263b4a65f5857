/**
 * A bad runs folder or a failing disk (issue 16, items 7 and 9): one line naming the
 * folder and what to do, exit 2 before anything ran (1 mid-run), nothing half written.
 * Read-only and full disks are injected at the atomic writer (ATTRIB_FAULT_WRITE, a test
 * seam in lib/io/atomic.ts), not made by filling a disk.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { attrib, executions, FIXTURES, PLUGIN, runJson, tmp, writeConfig } from './helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');

/** Temporary names and staging folders anywhere under `dir`. */
const leftovers = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => /\.staging-|\.tmp-/.test(p));
/** stderr without the lines of stages and the backend: what attrib itself said. */
const said = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('[') && !l.startsWith('backend: '));

test('--runs naming a file, a path through a file, /proc or nothing: one line, exit 2, nothing written', async (t) => {
  const dir = tmp();
  const file = join(dir, 'file');
  writeFileSync(file, 'not a folder');
  const cases: [string, RegExp][] = [
    [file, new RegExp(`^--runs ${file}: ${file} is a file, not a folder: choose another --runs folder$`, 'm')],
    [join(file, 'runs'), new RegExp(`^--runs ${file}/runs: ${file} is a file, not a folder`, 'm')],
    ['/proc/1', /^--runs \/proc\/1: \/proc\/1 is on the kernel's proc file system, not a disk: choose another --runs folder$/m],
    ['/proc/1/runs', /^--runs \/proc\/1\/runs: \/proc\/1 is on the kernel's proc file system/],
    ['', /^error: option '--runs <dir>' argument '' is invalid\. name a folder \(the default is \.\/runs\)$/m],
  ];
  for (const [runs, message] of cases) {
    const r = await attrib(['run', TOY, '--runs', runs], { cwd: dir });
    t.is(r.code, 2, `--runs '${runs}': ${r.stderr}`);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  }
  for (const command of ['verify', 'gc']) {
    const r = await attrib([command, '--runs', file]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`^--runs ${file}: ${file} is a file, not a folder`, 'm'));
  }
  t.deepEqual(readdirSync(dir), ['file'], 'nothing was written into the current folder');
});

test('a read-only runs folder when every stage is cached: exit 2 naming the folder, run.json untouched', async (t) => {
  const runs = tmp();
  t.is((await attrib(['run', TOY, '--runs', runs])).code, 0);
  const before = readFileSync(join(runs, 'toy', 'run.json'), 'utf8');
  for (const code of ['EROFS', 'ENOSPC']) {
    const r = await attrib(['run', TOY, '--runs', runs], { env: { ATTRIB_FAULT_WRITE: code } });
    t.is(r.code, 2, r.stderr);
    const advice = code === 'EROFS' ? 'the file system is read-only: choose a writable --runs folder' : 'no space left on the device: free some space or choose another --runs folder';
    t.deepEqual(said(r.stderr), [`--runs ${runs}: cannot write ${runs}/.attrib-write-check: ${advice}`]);
    t.is(readFileSync(join(runs, 'toy', 'run.json'), 'utf8'), before);
    t.deepEqual(leftovers(runs), []);
  }
});

test('a full disk mid-run: the stage whose write failed says so, exit 1, nothing half written; a re-run resumes', async (t) => {
  const runs = tmp();
  const log = join(runs, 'toy.log');
  // The combine of `squares` succeeds; its manifest (written last) hits the full disk.
  const r = await attrib(['run', TOY, '--runs', runs], { env: { ATTRIB_TOY_LOG: log, ATTRIB_FAULT_WRITE: 'ENOSPC:manifest.json' } });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^\[data\] FAILED: cannot write \S+\/store\/[0-9a-f]{64}\/manifest\.json: no space left on the device: free some space or choose another --runs folder$/m);
  t.is(runJson(runs, 'toy').squares!.status, 'blocked');
  t.deepEqual(leftovers(runs), []);
  t.false(readdirSync(join(runs, 'store')).some((h) => existsSync(join(runs, 'store', h, 'manifest.json'))), 'no entry looks finished');

  const again = await attrib(['run', TOY, '--runs', runs], { env: { ATTRIB_TOY_LOG: log } });
  t.is(again.code, 0, again.stderr);
  t.is(runJson(runs, 'toy').total!.metrics.total, 55);
  t.is(executions(log).length, 6);
});

test('run.json on a full disk before any stage began: exit 2 with one line, nothing half written', async (t) => {
  const runs = tmp();
  const r = await attrib(['run', TOY, '--runs', runs], { env: { ATTRIB_FAULT_WRITE: 'ENOSPC:run.json' } });
  t.is(r.code, 2, r.stderr);
  t.deepEqual(said(r.stderr), [`attrib: cannot write ${runs}/toy/run.json: no space left on the device: free some space or choose another --runs folder`]);
  t.deepEqual(leftovers(runs), []);
});

test('an experiment name too long for a folder name: one line with the path shortened, exit 2', async (t) => {
  const runs = tmp();
  const name = 'x'.repeat(5000);
  const config = writeConfig(tmp(), `name: ${name}\nplugins: [PLUGIN]\nstages:\n  data: {kind: numbers, params: {n: 2}}\n`);
  const r = await attrib(['run', config, '--runs', runs]);
  t.is(r.code, 2, r.stderr);
  const lines = said(r.stderr);
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^attrib: cannot write \S+…x+: the name is too long for the file system: shorten the experiment name or the --runs path$/);
  t.true(lines[0]!.length < 400);
  t.deepEqual(leftovers(runs), []);
});
