/**
 * Batched per-example gradient factors (one forward + one backward for the batch)
 * against a loop of per-example tf.grads and against central finite differences.
 * g_{l,i} = Σ_p a_{l,i,p} ⊗ δ_{l,i,p} is the [W; b] gradient of layer l (models/types.ts).
 */
import test from 'ava';
import { initBackend, tf } from '../../lib/backend.ts';
import { margin } from '../../lib/models/margin.ts';
import { createNetwork } from '../../lib/models/index.ts';
import { builtinModels } from '../helpers/builtins.ts';
import { Rng } from '../../lib/random/rng.ts';
import { checkNetwork } from './grad-reference.ts';
import { toyMlp } from './toy-network.ts';

test('dense per-example gradients: batched factors = per-example loop = finite differences', async (t) => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
  const net = toyMlp([6, 5, 4, 3]);
  const rng = Rng.from('grad-data');
  const x = tf.tensor2d(rng.fillNormal(new Float32Array(7 * 6)), [7, 6]);
  const y = tf.tensor1d(Int32Array.from({ length: 7 }, () => rng.int(3)), 'int32');
  await checkNetwork(t, net, x, y);
  net.dispose();
});

test('margin = logit_y − logsumexp of the others, and σ(margin) = softmax_y', async (t) => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
  const logits = tf.tensor2d([[1, 2, 3], [0.5, -1, 4]]);
  const f = margin(logits, tf.tensor1d([0, 2], 'int32')).dataSync();
  t.true(Math.abs(f[0] - (1 - Math.log(Math.exp(2) + Math.exp(3)))) < 1e-5);
  t.true(Math.abs(f[1] - (4 - Math.log(Math.exp(0.5) + Math.exp(-1)))) < 1e-5);
  const soft = Math.exp(4) / (Math.exp(0.5) + Math.exp(-1) + Math.exp(4));
  t.true(Math.abs(1 / (1 + Math.exp(-f[1])) - soft) < 1e-6);
});

for (const [title, spec, featureShape] of [
  ['mlp (lib/models)', { kind: 'mlp', hidden: [6, 5], activation: 'tanh' }, [7]],
  ['cnn: conv weight gradient = Σ_positions δ ⊗ patch', { kind: 'cnn', channels: [3], kernel: 3, pool: 2, hidden: [5], activation: 'tanh' }, [6, 6, 2]],
] as const) {
  test(`${title}: batched factors = per-example loop = finite differences`, async (t) => {
    await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
    const net = createNetwork(builtinModels(), spec as unknown as { kind: string }, { featureShape: [...featureShape], classes: 4 }, Rng.from('grad-net', title));
    const rng = Rng.from('grad-data', title);
    const size = featureShape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(rng.fillNormal(new Float32Array(5 * size)), [5, ...featureShape]);
    const y = tf.tensor1d(Int32Array.from({ length: 5 }, () => rng.int(4)), 'int32');
    await checkNetwork(t, net, x, y);
    net.dispose();
  });
}
