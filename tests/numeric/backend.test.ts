import test from 'ava';
import { createRequire } from 'node:module';
import { BackendError, backendInfo, BACKENDS as LIBRARY_BACKENDS, initBackend, tf } from '../../lib/backend.ts';
import { BACKENDS as CONFIG_BACKENDS } from '../../pipeline/validate.ts';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const hasNode = installed('@tensorflow/tfjs-node');
const hasGpu = installed('@tensorflow/tfjs-node-gpu');

test.serial('auto picks the best installed backend and says why', async (t) => {
  const b = await initBackend('auto');
  if (!hasNode && !hasGpu) {
    t.is(b.name, 'wasm');
    t.is(b.reason, 'auto: @tensorflow/tfjs-node is not installed');
  } else {
    t.true(b.name === 'tensorflow' || b.name === 'tensorflow-gpu');
  }
  t.deepEqual(await backendInfo('auto'), { backend: b.name, backendReason: b.reason });
  t.is(await initBackend('auto'), b, 'memoized');
});

test.serial('a missing native backend is a one-line error naming the package', async (t) => {
  for (const [name, pkg, present] of [
    ['tensorflow', '@tensorflow/tfjs-node', hasNode],
    ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu', hasGpu],
  ] as const) {
    if (present) continue;
    const e = await t.throwsAsync(initBackend(name), { instanceOf: BackendError });
    t.false(e!.message.includes('\n'));
    t.true(e!.message.includes(`npm install ${pkg}`), e!.message);
  }
  await t.throwsAsync(initBackend('gpu'), { instanceOf: BackendError, message: /unknown backend "gpu" \(expected one of auto, wasm, cpu, tensorflow, tensorflow-gpu\)/ });
});

test.serial('switching between requested backends in one thread', async (t) => {
  t.is((await initBackend('cpu')).name, 'cpu');
  t.is(tf.getBackend(), 'cpu');
  t.is((await initBackend('wasm')).reason, 'requested');
  t.is(tf.getBackend(), 'wasm');
  await initBackend('cpu');
  await initBackend('wasm');
  t.is(tf.getBackend(), 'wasm', 'a memoized request switches back');
  // The same numbers on both: wasm and cpu agree on a small product.
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const wasm = tf.matMul(a, a).dataSync();
  await initBackend('cpu');
  const b = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  t.deepEqual(Array.from(tf.matMul(b, b).dataSync()), Array.from(wasm));
  await initBackend('wasm');
});

// The engine validates `backend:` without importing the library (docs/design.md, Layers),
// so the names are written twice; this keeps the two lists one.
test('the backends a config may name are the ones the library can load', (t) => {
  t.deepEqual([...CONFIG_BACKENDS], [...LIBRARY_BACKENDS]);
});
