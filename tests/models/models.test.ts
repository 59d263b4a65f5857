/**
 * Networks: the margin against a hand computation, gradients of the margin against
 * central finite differences, the per-example gradient built from forwardTapped's
 * factors (G = Σ_p a_p ⊗ δ_p) against tf.grad, save/load, seeded init, the schema.
 */
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { paramsSchema, Registry } from '../../pipeline/registry.ts';
import { initBackend, tf } from '../../lib/backend.ts';
import { z } from 'zod';
import { createNetwork, loadNetwork, margin, modelSchema, type DataShape, type ModelKind, type Network } from '../../lib/models/index.ts';
import { Rng } from '../../lib/random/rng.ts';
import { MODEL_KINDS } from '../../stages/extensions.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { train } from '../../stages/train.ts';
import { builtinModels } from '../helpers/builtins.ts';
import { tempDir } from '../helpers/run-stage.ts';

test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
});

const SPECS = [
  { title: 'logreg', spec: { kind: 'logreg' }, featureShape: [5] },
  { title: 'mlp (tanh)', spec: { kind: 'mlp', hidden: [6, 4], activation: 'tanh' }, featureShape: [5] },
  { title: 'mlp (relu) on images', spec: { kind: 'mlp', hidden: [7] }, featureShape: [4, 4, 1] },
  { title: 'cnn', spec: { kind: 'cnn', channels: [3, 4], kernel: 3, pool: 2, hidden: [5], activation: 'tanh' }, featureShape: [6, 7, 2] },
];
const CLASSES = 3;
const B = 4;

function batch(featureShape: number[], label: string) {
  const rng = Rng.from('models-test', label);
  const size = featureShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(rng.fillNormal(new Float32Array(B * size)), [B, ...featureShape]);
  const y = tf.tensor1d(Int32Array.from({ length: B }, (_, i) => i % CLASSES), 'int32');
  return { x, y };
}

/** ∂f_i/∂θ for each example i by tf.grad, flattened as [W; b] per layer: [B][numParams]. */
function gradsByTf(net: Network, x: tf.Tensor, y: tf.Tensor1D): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < B; i++) {
    const g = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(margin(net.logits(tf.slice(x, i, 1)), tf.slice(y, i, 1))) as tf.Scalar, net.variables);
      return tf.concat(net.variables.map((v) => tf.reshape(grads[v.name], [-1])));
    });
    out.push(g.dataSync() as Float32Array);
    g.dispose();
  }
  return out;
}

/** Per-example gradients from forwardTapped: δ = ∂Σf/∂taps, G_l = Σ_p a_p ⊗ δ_p. */
function gradsByFactors(net: Network, x: tf.Tensor, y: tf.Tensor1D): Float32Array[] {
  const taps = net.tapShapes(B).map((s) => tf.zeros(s) as tf.Tensor3D);
  let inputs: tf.Tensor3D[] = [];
  const deltas = tf.grads((...t: tf.Tensor[]) => {
    const out = net.forwardTapped(x, t as tf.Tensor3D[]);
    inputs = out.inputs.map((a) => tf.keep(a));
    return tf.sum(margin(out.logits, y));
  })(taps);
  const perLayer = inputs.map((a, l) => tf.tidy(() => {
    // [B, P, in+1]ᵀ · [B, P, out] → [B, in+1, out]; explicit loop over examples to stay obvious.
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < B; i++) {
      const ai = tf.reshape(tf.slice(a, [i, 0, 0], [1, -1, -1]), [a.shape[1], a.shape[2]]);
      const di = tf.reshape(tf.slice(deltas[l], [i, 0, 0], [1, -1, -1]), [a.shape[1], deltas[l].shape[2]!]);
      rows.push(tf.reshape(tf.matMul(tf.transpose(ai), di), [1, -1]));
    }
    return tf.concat(rows, 0);
  }));
  const flat = tf.concat(perLayer, 1);
  const data = flat.dataSync() as Float32Array;
  const size = flat.shape[1]!;
  tf.dispose([...taps, ...inputs, ...deltas, ...perLayer, flat]);
  return Array.from({ length: B }, (_, i) => data.slice(i * size, (i + 1) * size));
}

/** Central differences of f_i in JS, for some parameters. */
function finiteDifferences(net: Network, x: tf.Tensor, y: tf.Tensor1D, params: number[], eps = 2e-3): Float64Array[] {
  const out = Array.from({ length: B }, () => new Float64Array(params.length));
  params.forEach((p, c) => {
    let v = 0;
    let off = p;
    while (off >= net.variables[v].size) off -= net.variables[v++].size;
    const variable = net.variables[v];
    const orig = variable.dataSync().slice() as Float32Array;
    const at = (delta: number) => {
      const d = orig.slice();
      d[off] += delta;
      variable.assign(tf.tensor(d, variable.shape));
      return tf.tidy(() => margin(net.logits(x), y).dataSync().slice());
    };
    const plus = at(eps);
    const minus = at(-eps);
    variable.assign(tf.tensor(orig, variable.shape));
    for (let i = 0; i < B; i++) out[i][c] = (plus[i] - minus[i]) / (2 * eps);
  });
  return out;
}

test('margin = logit_y − logsumexp of the other logits, σ(margin) = softmax_y, and its gradient', (t) => {
  const logits = tf.tensor2d([[1, 2, 3], [0.5, -1, 4], [10, -10, 0]]);
  const y = tf.tensor1d([0, 2, 0], 'int32');
  const f = margin(logits, y).dataSync();
  const hand = [1 - Math.log(Math.exp(2) + Math.exp(3)), 4 - Math.log(Math.exp(0.5) + Math.exp(-1)), 10 - Math.log(Math.exp(-10) + Math.exp(0))];
  hand.forEach((h, i) => t.true(Math.abs(f[i] - h) < 1e-5, `row ${i}: ${f[i]} vs ${h}`));
  const softmax = Math.exp(4) / (Math.exp(0.5) + Math.exp(-1) + Math.exp(4));
  t.true(Math.abs(1 / (1 + Math.exp(-f[1])) - softmax) < 1e-6);
  // ∂f/∂logit_y = 1; ∂f/∂logit_k = −softmax of the others (k ≠ y).
  const g = tf.grad((l: tf.Tensor) => tf.sum(margin(l as tf.Tensor2D, y)))(logits).arraySync() as number[][];
  const z = Math.exp(2) + Math.exp(3);
  t.true(Math.abs(g[0][0] - 1) < 1e-6);
  t.true(Math.abs(g[0][1] + Math.exp(2) / z) < 1e-6);
  t.true(Math.abs(g[0][2] + Math.exp(3) / z) < 1e-6);
});

for (const { title, spec, featureShape } of SPECS) {
  test(`${title}: ∇θ f by tf.grad = by forwardTapped factors = by central differences`, (t) => {
    const net = createNetwork(builtinModels(), spec, { featureShape, classes: CLASSES }, Rng.from('models-test-init', title));
    const { x, y } = batch(featureShape, title);
    const byTf = gradsByTf(net, x, y);
    const byFactors = gradsByFactors(net, x, y);
    t.is(byTf[0].length, net.numParams);
    t.is(byFactors[0].length, net.numParams);
    let scale = 0;
    let err = 0;
    for (let i = 0; i < B; i++) for (let j = 0; j < net.numParams; j++) {
      scale = Math.max(scale, Math.abs(byTf[i][j]));
      err = Math.max(err, Math.abs(byTf[i][j] - byFactors[i][j]));
    }
    t.true(scale > 1e-3, 'gradients are not trivially zero');
    t.true(err <= 1e-5 * Math.max(1, scale), `factors vs tf.grad: max error ${err} (max |g| ${scale})`);
    const rng = Rng.from('fd-params', title);
    // Every layer's weights and biases get some probes.
    const params = Array.from({ length: 24 }, () => rng.int(net.numParams));
    let offset = 0;
    for (const v of net.variables) {
      params.push(offset + rng.int(v.size));
      offset += v.size;
    }
    const fd = finiteDifferences(net, x, y, params);
    let fdErr = 0;
    for (let i = 0; i < B; i++) params.forEach((p, c) => (fdErr = Math.max(fdErr, Math.abs(byTf[i][p] - fd[i][c]))));
    t.log(`central differences: max error ${fdErr.toExponential(2)}, factors: ${err.toExponential(2)}, max |g| ${scale.toFixed(3)}`);
    t.true(fdErr <= 2e-3 * Math.max(1, scale), `tf.grad vs central differences: max error ${fdErr} (max |g| ${scale})`);
    tf.dispose([x, y]);
    net.dispose();
  });
}

test('cnn layers: conv inputs are im2col patches [B, H·W, k·k·cin + 1] with a bias column of ones', (t) => {
  const net = createNetwork(builtinModels(), { kind: 'cnn', channels: [3], kernel: 3, hidden: [] }, { featureShape: [4, 4, 2], classes: 2 }, Rng.from('shapes'));
  t.deepEqual(net.layers.map((l) => [l.kind, l.inDim, l.outDim]), [['conv2d', 18, 3], ['dense', 12, 2]]);
  t.deepEqual(net.tapShapes(5), [[5, 16, 3], [5, 1, 2]]);
  const x = tf.tensor(Float32Array.from({ length: 32 }, (_, i) => i + 1), [1, 4, 4, 2]);
  const out = net.forwardTapped(x, net.tapShapes(1).map((s) => tf.zeros(s) as tf.Tensor3D));
  t.deepEqual(out.inputs[0].shape, [1, 16, 19]);
  const a = out.inputs[0].arraySync()[0];
  // Position (1, 1) (p = 5): patch rows y 0..2, cols x 0..2, both channels, [kh, kw, cin] order.
  const expected: number[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) for (let c = 0; c < 2; c++) expected.push((dy * 4 + dx) * 2 + c + 1);
  t.deepEqual(a[5], [...expected, 1]);
  // Position (0, 0): the 'same' padding is zeros.
  t.deepEqual(a[0].slice(0, 6), [0, 0, 0, 0, 0, 0]);
  net.dispose();
});

test('initialization is seeded; save/load round-trips as tfjs model.json + weights.bin', async (t) => {
  const spec = { kind: 'cnn', channels: [2], hidden: [4] };
  const shape = { featureShape: [6, 6, 1], classes: 3 };
  const a = createNetwork(builtinModels(), spec, shape, Rng.from('init', 1));
  const b = createNetwork(builtinModels(), spec, shape, Rng.from('init', 1));
  const c = createNetwork(builtinModels(), spec, shape, Rng.from('init', 2));
  t.deepEqual(a.variables[0].dataSync(), b.variables[0].dataSync());
  t.notDeepEqual(a.variables[0].dataSync(), c.variables[0].dataSync());
  const dir = join(tempDir(), 'model');
  await a.save(dir);
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  t.is(json.format, 'attrib-network');
  t.is(json.modelTopology.kind, 'cnn');
  t.deepEqual(json.weightsManifest[0].weights.map((w: { shape: number[] }) => w.shape), [[3, 3, 1, 2], [2], [18, 4], [4], [4, 3], [3]]);
  t.is(statSync(join(dir, 'weights.bin')).size, 4 * a.numParams);
  const loaded = loadNetwork(builtinModels(), dir);
  const { x } = batch([6, 6, 1], 'roundtrip');
  t.deepEqual(loaded.logits(x).dataSync(), a.logits(x).dataSync());
  for (const n of [a, b, c, loaded]) n.dispose();
});

test('model schema: shorthand, defaults, unknown kinds, a cnn needs images, plugins', (t) => {
  const modelSchemaOf = () => modelSchema(builtinModels());
  t.deepEqual(modelSchemaOf().parse('mlp'), { kind: 'mlp', hidden: [128], activation: 'relu' });
  t.like(modelSchemaOf().parse({ kind: 'cnn' }), { channels: [16, 32], kernel: 3, pool: 2, hidden: [128] });
  t.throws(() => modelSchemaOf().parse({ kind: 'resnet' }), { message: /Invalid discriminator/ });
  t.throws(() => modelSchemaOf().parse({ kind: 'mlp', hiden: [3] }), { message: /Unrecognized key/ });
  t.throws(() => modelSchemaOf().parse({ kind: 'cnn', kernel: 4 }), { message: /odd kernel/ });
  t.throws(() => createNetwork(builtinModels(), { kind: 'cnn' }, { featureShape: [4], classes: 2 }, Rng.from(0)), { message: /needs image examples/ });
  const registry = new Registry();
  registerBuiltins(registry);
  registry.register(MODEL_KINDS, 'wide-test', wideTest(registry));
  t.true(registry.extensions(MODEL_KINDS).has('wide-test'));
  // The train kind's schema is built from the registry's table when a config is validated.
  t.like(paramsSchema(train, registry).parse({ model: 'wide-test', fit: { epochs: 1, batchSize: 8, optimizer: { kind: 'sgd', lr: 0.1 } } }), { model: { kind: 'wide-test' } });
  const net = createNetwork(registry.extensions(MODEL_KINDS), { kind: 'wide-test' }, { featureShape: [3], classes: 2 }, Rng.from(0));
  t.deepEqual(net.layers.map((l) => l.outDim), [64, 2]);
  net.dispose();
});

/** A plugin's model kind: an mlp with one hidden layer of 64, built on the registry's mlp. */
function wideTest(registry: Registry): ModelKind<{ kind: 'wide-test' }> {
  const mlp = registry.extensions(MODEL_KINDS).get('mlp')!;
  return {
    name: 'wide-test',
    description: 'an mlp with one hidden layer of 64',
    params: z.strictObject({ kind: z.literal('wide-test') }),
    create: (_s: unknown, shape: DataShape, init: Rng) => mlp.create({ kind: 'mlp', hidden: [64], activation: 'relu' }, shape, init),
  };
}

test('a model kind registered in one registry is unknown in another in the same process', (t) => {
  const a = new Registry();
  const b = new Registry();
  registerBuiltins(a);
  registerBuiltins(b);
  a.register(MODEL_KINDS, 'wide-test', wideTest(a));
  t.false(b.extensions(MODEL_KINDS).has('wide-test'));
  const params = { model: 'wide-test', fit: { epochs: 1, batchSize: 8, optimizer: { kind: 'sgd', lr: 0.1 } } };
  t.true(paramsSchema(train, a).safeParse(params).success);
  t.throws(() => paramsSchema(train, b).parse(params), { message: /Invalid discriminator/ });
  t.throws(() => createNetwork(b.extensions(MODEL_KINDS), { kind: 'wide-test' }, { featureShape: [3], classes: 2 }, Rng.from(0)), {
    message: 'unknown model kind "wide-test": expected one of logreg, mlp, cnn',
  });
});
