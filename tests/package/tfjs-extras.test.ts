/**
 * lib/tfjs-extras.js (tfjs-core's gradients and chained methods, bundled) must be what
 * scripts/build-tfjs-extras.mjs writes for the installed tfjs-core, and must do its job:
 * gradients and chained methods work with tfjs-core alone.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../lib/backend.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('lib/tfjs-extras.js is what scripts/build-tfjs-extras.mjs writes for the installed tfjs-core', (t) => {
  const r = spawnSync(process.execPath, ['scripts/build-tfjs-extras.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
});

test('gradients and chained methods are registered: d/dx sum(|x| reshaped) = sign(x)', async (t) => {
  await initBackend('cpu');
  const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.abs(x).reshape([2, 2])));
  t.deepEqual(grad(tf.tensor([1, -2, 3, -4])).arraySync(), [1, -1, 1, -1]);
});
