/**
 * Reference per-example gradients for the attribution tests: from the batched factors,
 * from a loop of per-example tf.grads, and by central finite differences.
 */
import type { ExecutionContext } from 'ava';
import { tf } from '../../lib/backend.ts';
import { gradientFactors } from '../../lib/attribution/margin-gradients.ts';
import { margin } from '../../lib/models/margin.ts';
import type { MarginFn, Network } from '../../lib/models/types.ts';
import { Rng } from '../../lib/random/rng.ts';

/** Per-example gradients [B, p] from the factors of every layer. */
export function gradientsFromFactors(net: Network, x: tf.Tensor, y: tf.Tensor1D): Float32Array[] {
  const { layers } = gradientFactors(net, x, y, net.layers.map((_, l) => l));
  const B = x.shape[0];
  const out = Array.from({ length: B }, () => new Float32Array(net.numParams));
  let offset = 0;
  for (const { a, d } of layers) {
    const g = tf.tidy(() => tf.matMul(tf.transpose(a, [0, 2, 1]), d)); // [B, in+1, out]
    const data = g.dataSync();
    const size = g.shape[1]! * g.shape[2]!;
    for (let i = 0; i < B; i++) out[i].set(data.subarray(i * size, (i + 1) * size), offset);
    offset += size;
    g.dispose();
    a.dispose();
    d.dispose();
  }
  return out;
}

/** ∇θ f(z_i) by one tf.grads call per example, flattened as [W; b] per layer. */
export function gradientsByLoop(net: Network, x: tf.Tensor, y: tf.Tensor1D): Float32Array[] {
  const B = x.shape[0];
  const out: Float32Array[] = [];
  for (let i = 0; i < B; i++) {
    const xi = tf.slice(x, [i], [1]);
    const yi = tf.slice(y, [i], [1]);
    const { grads } = tf.variableGrads(() => tf.sum(margin(net.logits(xi), yi)) as tf.Scalar, net.variables);
    const flat: number[] = [];
    for (let l = 0; l < net.layers.length; l++) {
      const w = grads[net.variables[2 * l].name].reshape([-1]).dataSync();
      const b = grads[net.variables[2 * l + 1].name].dataSync();
      flat.push(...w, ...b);
    }
    Object.values(grads).forEach((g) => g.dispose());
    xi.dispose();
    yi.dispose();
    out.push(Float32Array.from(flat));
  }
  return out;
}

/**
 * Central differences of f(z_i) (or of another per-example output, e.g. the loss) for a
 * few parameters, in float32 (eps = 1e-3: small enough not to cross relu/max-pool kinks).
 */
export function finiteDifferences(net: Network, x: tf.Tensor, y: tf.Tensor1D, params: number[], output: MarginFn = margin): Float32Array[] {
  const B = x.shape[0];
  const out = Array.from({ length: B }, () => new Float32Array(params.length));
  const sizes = net.variables.map((v) => v.size);
  const eps = 1e-3;
  params.forEach((p, c) => {
    let v = 0;
    let off = p;
    while (off >= sizes[v]) off -= sizes[v++];
    const variable = net.variables[v];
    const orig = variable.dataSync().slice();
    const evalAt = (delta: number) => {
      const d = orig.slice();
      d[off] += delta;
      variable.assign(tf.tensor(d, variable.shape));
      return tf.tidy(() => output(net.logits(x), y).dataSync().slice());
    };
    const plus = evalAt(eps);
    const minus = evalAt(-eps);
    variable.assign(tf.tensor(orig, variable.shape));
    for (let i = 0; i < B; i++) out[i][c] = (plus[i] - minus[i]) / (2 * eps);
  });
  return out;
}

export async function checkNetwork(t: ExecutionContext, net: Network, x: tf.Tensor, y: tf.Tensor1D): Promise<void> {
  const batched = gradientsFromFactors(net, x, y);
  const looped = gradientsByLoop(net, x, y);
  let maxErr = 0;
  let maxAbs = 0;
  for (let i = 0; i < batched.length; i++) {
    for (let j = 0; j < net.numParams; j++) {
      maxErr = Math.max(maxErr, Math.abs(batched[i][j] - looped[i][j]));
      maxAbs = Math.max(maxAbs, Math.abs(looped[i][j]));
    }
  }
  t.true(maxErr <= 1e-4 * maxAbs, `batched vs loop: max error ${maxErr} (max |g| ${maxAbs})`);
  const rng = Rng.from('fd-params');
  const params = Array.from({ length: 12 }, () => rng.int(net.numParams));
  const fd = finiteDifferences(net, x, y, params);
  let fdErr = 0;
  // Variables are [W, b] per layer, flattened in the same order as [W; b] row-major.
  for (let i = 0; i < batched.length; i++) params.forEach((p, c) => (fdErr = Math.max(fdErr, Math.abs(batched[i][p] - fd[i][c]))));
  t.true(fdErr <= 2e-2 * maxAbs, `batched vs finite differences: max error ${fdErr} (max |g| ${maxAbs})`);
}

