/**
 * Dropout in the mlp kind (dattri's MNIST MLP: dropout 0.1 after each hidden relu):
 * a training pass (logits with a dropout stream) is the hand-computed inverted dropout
 * with masks drawn from that stream; inference (no stream) has no dropout, is
 * deterministic, and survives save/load; attribution's per-example gradients are the
 * eval-mode ones; the option is absent unless given (hashes of
 * configs without it do not change); fit is reproducible with dropout.
 */
import test from 'ava';
import { join } from 'node:path';
import { initBackend, tf } from '../../lib/backend.ts';
import { createNetwork, loadNetwork, mlp } from '../../lib/models/index.ts';
import { SequentialNetwork, type BlockSpec, type Topology } from '../../lib/models/sequential.ts';
import { Rng } from '../../lib/random/rng.ts';
import { fit } from '../../lib/training/index.ts';
import { gradientsFromFactors } from '../attribution/grad-reference.ts';
import { builtinModels } from '../helpers/builtins.ts';
import { tempDir } from '../helpers/run-stage.ts';

test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
});

const SHAPE = { featureShape: [5], classes: 3 };
const SPEC = { kind: 'mlp', hidden: [6, 4], dropout: 0.5 };

function input(label: string, rows = 3): { x: tf.Tensor2D; data: Float32Array } {
  const data = Rng.from('dropout-test', label).fillNormal(new Float32Array(rows * 5));
  return { x: tf.tensor2d(data, [rows, 5]), data };
}

/** Dense relu layers by hand in float64, with an optional dropout multiplier per hidden unit. */
function handLogits(weights: Float32Array[], dims: number[], x: Float32Array, rows: number, dropout?: { rng: Rng; rate: number }): number[][] {
  const out: number[][] = [];
  let h: number[][] = Array.from({ length: rows }, (_, i) => Array.from(x.subarray(i * dims[0], (i + 1) * dims[0])));
  for (let l = 0; l + 1 < dims.length; l++) {
    const [W, b] = [weights[2 * l], weights[2 * l + 1]];
    const last = l === dims.length - 2;
    h = h.map((row) => Array.from({ length: dims[l + 1] }, (_, o) => row.reduce((s, v, i) => s + v * W[i * dims[l + 1] + o], b[o])));
    if (!last) {
      h = h.map((row) => row.map((v) => Math.max(0, v)));
      // Same draw order as the network: row-major over [rows, width], one uniform per unit.
      if (dropout) h = h.map((row) => row.map((v) => (dropout.rng.uniform() < dropout.rate ? 0 : v / (1 - dropout.rate))));
    }
  }
  out.push(...h);
  return out;
}

function close(t: import('ava').ExecutionContext, got: Float32Array, want: number[][], tol = 1e-5): void {
  const flat = want.flat();
  t.is(got.length, flat.length);
  const worst = Math.max(...flat.map((w, i) => Math.abs(got[i] - w)));
  t.true(worst < tol, `max |difference| ${worst}`);
}

test('mlp dropout: absent unless given, a rate in [0, 1), on every hidden layer but not the output', (t) => {
  t.false('dropout' in mlp.params.parse({ kind: 'mlp' }));
  t.throws(() => mlp.params.parse({ kind: 'mlp', dropout: 1 }));
  const net = createNetwork(builtinModels(), SPEC, SHAPE, Rng.from('dropout-net'));
  const blocks = (net as unknown as { topology: { blocks: BlockSpec[] } }).topology.blocks;
  t.deepEqual(
    blocks.map((b) => (b.type === 'dense' ? b.dropout : undefined)),
    [0.5, 0.5, undefined],
  );
  net.dispose();
});

test('mlp dropout: inference has none (deterministic, = the hand forward pass); a training pass is inverted dropout from its stream', (t) => {
  const net = createNetwork(builtinModels(), SPEC, SHAPE, Rng.from('dropout-net'));
  const { x, data } = input('forward');
  const weights = net.variables.map((v) => v.dataSync() as Float32Array);
  const dims = [5, 6, 4, 3];
  const eval1 = tf.tidy(() => net.logits(x).dataSync() as Float32Array);
  const eval2 = tf.tidy(() => net.logits(x).dataSync() as Float32Array);
  t.deepEqual(Array.from(eval1), Array.from(eval2));
  close(t, eval1, handLogits(weights, dims, data, 3));

  const trained = tf.tidy(() => net.logits(x, Rng.from('dropout-stream')).dataSync() as Float32Array);
  close(t, trained, handLogits(weights, dims, data, 3, { rng: Rng.from('dropout-stream'), rate: 0.5 }));
  t.notDeepEqual(Array.from(trained), Array.from(eval1));
  x.dispose();
  net.dispose();
});

test('mlp dropout: a saved and reloaded network keeps its rate and infers without dropout', async (t) => {
  const net = createNetwork(builtinModels(), SPEC, SHAPE, Rng.from('dropout-net'));
  const dir = join(tempDir('attrib-dropout-'), 'model');
  await net.save(dir);
  const back = loadNetwork(builtinModels(), dir);
  const { x } = input('reload');
  t.deepEqual(Array.from(tf.tidy(() => back.logits(x).dataSync())), Array.from(tf.tidy(() => net.logits(x).dataSync())));
  const blocks = (back as unknown as { topology: { blocks: BlockSpec[] } }).topology.blocks;
  t.is(blocks[0].type === 'dense' ? blocks[0].dropout : undefined, 0.5);
  x.dispose();
  net.dispose();
  back.dispose();
});

test('fit with dropout: the same streams give the same weights; dropout changes them', async (t) => {
  const rows = 12;
  const { data } = input('fit', rows);
  const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
  const recipe = { epochs: 2, batchSize: 4, optimizer: { kind: 'sgd' as const, lr: 0.1, momentum: 0, nesterov: false }, schedule: { kind: 'constant' as const }, weightDecay: 0 };
  const trainOnce = async (spec: typeof SPEC | { kind: string; hidden: number[] }) => {
    const net = createNetwork(builtinModels(), spec, SHAPE, Rng.from('dropout-fit-init'));
    await fit(net, { x: data, featureShape: [5], y, rows: Int32Array.from({ length: rows }, (_, i) => i) }, recipe, Rng.from('dropout-fit'));
    const w = net.variables.map((v) => Array.from(v.dataSync()));
    net.dispose();
    return w;
  };
  const a = await trainOnce(SPEC);
  const b = await trainOnce(SPEC);
  const none = await trainOnce({ kind: 'mlp', hidden: [6, 4] });
  t.deepEqual(a, b);
  t.notDeepEqual(a, none);
});

test('mlp dropout: attribution gradients are those of the same weights without dropout (eval mode), run after run', (t) => {
  const net = createNetwork(builtinModels(), SPEC, SHAPE, Rng.from('dropout-net'));
  const topology = (net as unknown as { topology: Topology }).topology;
  const plain = new SequentialNetwork({ ...topology, blocks: topology.blocks.map((b) => (b.type === 'dense' ? { ...b, dropout: undefined } : b)) }, net.variables.map((v) => v.dataSync() as Float32Array));
  const { x } = input('gradients', 4);
  const y = tf.tensor1d([0, 1, 2, 0], 'int32');
  const once = gradientsFromFactors(net, x, y).map((g) => Array.from(g));
  t.deepEqual(gradientsFromFactors(net, x, y).map((g) => Array.from(g)), once);
  t.deepEqual(gradientsFromFactors(plain, x, y).map((g) => Array.from(g)), once);
  tf.dispose([x, y]);
  net.dispose();
  plain.dispose();
});
