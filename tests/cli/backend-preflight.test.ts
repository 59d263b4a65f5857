/**
 * A requested backend that is not installed stops `attrib run` before any worker starts:
 * one line at the config's `backend:` line, exit code 2, nothing written to the store.
 */
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tmp } from '../helpers/rig.ts';

const hasTfjsNode = (() => {
  try {
    import.meta.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

(hasTfjsNode ? test.skip : test)('backend: tensorflow without @tensorflow/tfjs-node is a config error (exit 2)', async (t) => {
  const dir = tmp('attrib-backend-');
  const config = join(dir, 'be.yaml');
  writeFileSync(config, 'name: be\nbackend: tensorflow\nstages:\n  data: {kind: dataset, params: {source: iris, train: 100, test: 50}}\n');
  const runs = join(dir, 'runs');
  const r = await cli(['run', config, '--runs', runs]);
  t.is(r.code, 2);
  t.is(r.stderr.trim(), `${config}:2 backend: backend tensorflow: @tensorflow/tfjs-node is not installed; install it with \`npm install @tensorflow/tfjs-node\` (see docs/backends.md)`);
  t.false(existsSync(join(runs, 'store')));
});
