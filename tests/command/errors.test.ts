/**
 * A broken script fails its stage with one line that says what is wrong, and leaves
 * the store as it was: no manifest, no unit, no half-written file in the entry.
 */
import test from 'ava';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attrib, entry, runJson, tmp, writeConfig } from '../engine/helpers.ts';
import { entryFiles, modelsConfig } from './helpers.ts';

const runs = tmp('attrib-command-errors-');

/** Runs a config whose models stage must fail; returns its one-line error after checking the entry is empty. */
async function failure(t: import('ava').ExecutionContext, name: string, text: string): Promise<string> {
  const config = writeConfig(tmp(), text);
  const r = await attrib(['run', config, '--runs', runs]);
  t.is(r.code, 1, r.stderr);
  const run = runJson(runs, name);
  t.is(run.models!.status, 'failed');
  const error = run.models!.error!;
  t.false(error.includes('\n'), 'one line');
  t.deepEqual(entryFiles(entry(runs, run.models!.hash)), ['stage.json'], 'nothing but the stage.json is left');
  return error;
}

test('a missing output file names the file and what the script did write', async (t) => {
  const error = await failure(t, 'missing', modelsConfig('missing', 'missing'));
  t.regex(error, /^unit \d failed: model \d: missing output file margins_test\.npy \(float32 \[nTest\]\); the program wrote fit\.json, margins_train\.npy \(log: .*command-logs\/[0-9a-f]{64}\/unit-\d\.log\)$/);
});

test('a wrong shape names the file, its shape and the expected one', async (t) => {
  const error = await failure(t, 'shape', modelsConfig('shape', 'shape'));
  t.regex(error, /model \d: margins_test\.npy has shape \[11\], expected \[10\] \(nTest = 10\)/);
});

test('a wrong dtype says which and how to save the right one', async (t) => {
  const error = await failure(t, 'dtype', modelsConfig('dtype', 'dtype'));
  t.regex(error, /model \d: margins_train\.npy is float64, expected float32 \(save it with \.astype\(np\.float32\)\)/);
});

test('NaN in an output is found and located', async (t) => {
  const error = await failure(t, 'nan', modelsConfig('nan', 'nan'));
  t.regex(error, /model \d: margins_train\.npy has NaN at \[0\]/);
});

test('a Python traceback fails the unit with its last line', async (t) => {
  const error = await failure(t, 'traceback', modelsConfig('traceback', 'traceback'));
  t.regex(error, /^unit \d failed: \S*python3 exited with code 1: ValueError: learning rate -1 is negative \(log: /);
  const log = error.match(/\(log: (.*)\)$/)![1]!;
  t.regex(readFileSync(log, 'utf8'), /Traceback \(most recent call last\):[\s\S]*ValueError: learning rate -1 is negative/);
});

test('a script that runs past its timeout is killed and fails its unit', async (t) => {
  const error = await failure(t, 'timeout', modelsConfig('timeout', 'sleep', '      timeout: 1\n'));
  t.regex(error, /python3 timed out after 1 s and was killed/);
});

test('a program that is not on the PATH fails its unit', async (t) => {
  const error = await failure(t, 'notfound', modelsConfig('notfound', 'ok', '', '[attrib-no-such-program-xyz, "${out}"]'));
  t.regex(error, /^unit \d failed: command not found: attrib-no-such-program-xyz \(log: /);
});

test('a script path that does not exist, or is not executable, is a config error at its line (exit 2)', async (t) => {
  const dir = tmp();
  writeConfig(dir, modelsConfig('nofile', 'ok', '', '[./no-such-train.sh, "${out}"]'), 'nofile.yaml');
  let r = await attrib(['run', 'nofile.yaml', '--runs', runs], { cwd: dir });
  t.is(r.code, 2);
  t.true(r.stderr.includes(`nofile.yaml:10 stages.models.params.command.0: cannot find the program ./no-such-train.sh (${join(dir, 'no-such-train.sh')})`), r.stderr);

  writeFileSync(join(dir, 'train.sh'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'train.sh'), 0o644);
  writeConfig(dir, modelsConfig('noexec', 'ok', '', '[./train.sh, "${out}"]'), 'noexec.yaml');
  r = await attrib(['run', 'noexec.yaml', '--runs', runs], { cwd: dir });
  t.is(r.code, 2);
  t.true(r.stderr.includes(`noexec.yaml:10 stages.models.params.command.0: ./train.sh is not executable (chmod +x ./train.sh, or name its interpreter first: [bash, ./train.sh])`), r.stderr);
});

test('an unknown ${variable} is a config error', async (t) => {
  const config = writeConfig(tmp(), modelsConfig('unknownvar', 'ok', '', '[python3, x.py, "${mask_fle}"]'));
  const r = await attrib(['run', config, '--runs', runs]);
  t.is(r.code, 2);
  t.regex(r.stderr, /stages\.models\.params\.command\.2: unknown variable \$\{mask_fle\}: expected one of .*\$\{mask_file\}/);
});
