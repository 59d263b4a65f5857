/**
 * The built-in networks (logreg, mlp, cnn) as one sequence of linear blocks, each a
 * dense or conv2d layer, an activation and (conv) a max-pool. Convolutions are computed
 * as im2col patches times W (stride 1, 'same' padding, odd kernels): that is exactly the
 * factorization linearization needs (inputs a_p per output position), and it needs no
 * Conv2DBackpropFilter kernel, which the wasm backend lacks.
 *
 * Call logits/forwardTapped inside tf.tidy (they do not tidy for the caller, so that
 * they can run under tf.grads).
 */
import { tf } from '../backend.ts';
import type { Rng } from '../random/rng.ts';
import { saveNetworkFiles } from './io.ts';
import { matMul } from './ops.ts';
import type { LinearLayerInfo, Network, TappedForward } from './types.ts';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'linear';

export type BlockSpec =
  | { type: 'dense'; name: string; inDim: number; outDim: number; activation: Activation }
  | {
      type: 'conv2d';
      name: string;
      /** Input height, width, channels (output is height × width × cout before pooling). */
      height: number;
      width: number;
      cin: number;
      cout: number;
      kernel: number;
      activation: Activation;
      /** Max-pool window and stride after the activation (1 = none). */
      pool: number;
    };

/** What model.json records: enough to rebuild the network without the config. */
export interface Topology {
  /** Model kind name (logreg, mlp, cnn, or a plugin's). */
  kind: string;
  /** The model params as given in the config (defaults applied). */
  spec: unknown;
  featureShape: number[];
  classes: number;
  blocks: BlockSpec[];
}

function inDimOf(b: BlockSpec): number {
  return b.type === 'dense' ? b.inDim : b.kernel * b.kernel * b.cin;
}

function outDimOf(b: BlockSpec): number {
  return b.type === 'dense' ? b.outDim : b.cout;
}

function activate(z: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case 'relu': return tf.relu(z);
    case 'tanh': return tf.tanh(z);
    case 'sigmoid': return tf.sigmoid(z);
    case 'elu': return tf.elu(z);
    default: return z;
  }
}

/** [B, H, W, C] → [B, H, W, k·k·C]: 'same'-padded patches in [kh, kw, cin] order. */
export function im2col(x: tf.Tensor4D, kernel: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (kernel === 1) return x;
  const p = (kernel - 1) / 2;
  const padded = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]);
  const slices: tf.Tensor4D[] = [];
  for (let dy = 0; dy < kernel; dy++) for (let dx = 0; dx < kernel; dx++) slices.push(tf.slice(padded, [0, dy, dx, 0], [b, h, w, c]));
  return tf.concat(slices, 3);
}

/**
 * Max-pool, window = stride = p, 'valid' (trailing rows/columns that do not fill a
 * window are dropped), as a reshape and a max over the window axes. Not tf.maxPool: the
 * wasm backend's MaxPoolGrad returns wrong gradients (tfjs 4.22; central differences
 * disagree by 50%), while max's gradient (mask of the maximum) is exact.
 */
export function maxPool(x: tf.Tensor4D, p: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const ho = Math.floor(h / p);
  const wo = Math.floor(w / p);
  const cropped = ho * p === h && wo * p === w ? x : tf.slice(x, [0, 0, 0, 0], [b, ho * p, wo * p, c]);
  return tf.max(tf.reshape(cropped, [b, ho, p, wo, p, c]), [2, 4]) as tf.Tensor4D;
}

export class SequentialNetwork implements Network {
  readonly layers: LinearLayerInfo[];
  readonly variables: tf.Variable[];
  readonly numParams: number;

  /**
   * Weights from `init` (seeded: W ~ N(0, gain²/fan_in), gain √2 before a relu/elu,
   * else 1; b = 0) or given as [W, b] per block in the order of `variables`.
   */
  constructor(readonly topology: Topology, init: Rng | Float32Array[]) {
    const blocks = topology.blocks;
    this.layers = blocks.map((b) => ({ name: b.name, kind: b.type, inDim: inDimOf(b), outDim: outDimOf(b) }));
    this.numParams = this.layers.reduce((s, l) => s + (l.inDim + 1) * l.outDim, 0);
    const given = Array.isArray(init) ? init : undefined;
    if (given && given.length !== 2 * blocks.length) throw new Error(`network ${topology.kind}: ${given.length} weight arrays for ${blocks.length} layers`);
    this.variables = [];
    blocks.forEach((b, l) => {
      const fanIn = inDimOf(b);
      const out = outDimOf(b);
      const wShape = b.type === 'dense' ? [fanIn, out] : [b.kernel, b.kernel, b.cin, out];
      let w: Float32Array;
      let bias: Float32Array;
      if (given) {
        [w, bias] = [given[2 * l], given[2 * l + 1]];
        if (w.length !== fanIn * out || bias.length !== out) throw new Error(`network ${topology.kind}: layer ${b.name} weights have ${w.length}+${bias.length} values, expected ${fanIn * out}+${out}`);
      } else {
        const gain = b.activation === 'relu' || b.activation === 'elu' ? Math.SQRT2 : 1;
        w = (init as Rng).split(b.name).fillNormal(new Float32Array(fanIn * out), gain / Math.sqrt(fanIn));
        bias = new Float32Array(out);
      }
      this.variables.push(tf.variable(tf.tensor(w, wShape, 'float32'), true), tf.variable(tf.tensor1d(bias, 'float32'), true));
    });
  }

  logits(x: tf.Tensor): tf.Tensor2D {
    return this.run(x);
  }

  tapShapes(batch: number): [number, number, number][] {
    return this.topology.blocks.map((b) => [batch, b.type === 'dense' ? 1 : b.height * b.width, outDimOf(b)]);
  }

  forwardTapped(x: tf.Tensor, taps: tf.Tensor3D[]): TappedForward {
    if (taps.length !== this.topology.blocks.length) throw new Error(`forwardTapped: ${taps.length} taps for ${this.topology.blocks.length} layers`);
    const inputs: tf.Tensor3D[] = [];
    const logits = this.run(x, taps, inputs);
    return { logits, inputs };
  }

  private run(x: tf.Tensor, taps?: tf.Tensor3D[], inputs?: tf.Tensor3D[]): tf.Tensor2D {
    const batch = x.shape[0];
    let h: tf.Tensor = x;
    this.topology.blocks.forEach((b, l) => {
      const w = this.variables[2 * l];
      const bias = this.variables[2 * l + 1];
      let z: tf.Tensor;
      if (b.type === 'dense') {
        const a = tf.reshape(h, [batch, b.inDim]) as tf.Tensor2D;
        z = tf.add(matMul(a, w as tf.Tensor2D), bias);
        if (taps) z = tf.add(z, tf.reshape(taps[l], [batch, b.outDim]));
        if (inputs) inputs.push(tf.reshape(tf.concat([a, tf.ones([batch, 1])], 1), [batch, 1, b.inDim + 1]) as tf.Tensor3D);
      } else {
        const positions = b.height * b.width;
        const k = inDimOf(b);
        const patches = im2col(tf.reshape(h, [batch, b.height, b.width, b.cin]) as tf.Tensor4D, b.kernel);
        const flat = tf.reshape(patches, [batch * positions, k]) as tf.Tensor2D;
        z = tf.reshape(tf.add(matMul(flat, tf.reshape(w, [k, b.cout]) as tf.Tensor2D), bias), [batch, b.height, b.width, b.cout]);
        if (taps) z = tf.add(z, tf.reshape(taps[l], [batch, b.height, b.width, b.cout]));
        if (inputs) inputs.push(tf.concat([tf.reshape(patches, [batch, positions, k]), tf.ones([batch, positions, 1])], 2) as tf.Tensor3D);
      }
      h = activate(z, b.activation);
      if (b.type === 'conv2d' && b.pool > 1) h = maxPool(h as tf.Tensor4D, b.pool);
    });
    return tf.reshape(h, [batch, this.topology.classes]) as tf.Tensor2D;
  }

  /** Weights as [W, b] per layer (W flattened row-major), in `variables` order. */
  weights(): Float32Array[] {
    return this.variables.map((v) => v.dataSync() as Float32Array);
  }

  async save(dir: string): Promise<void> {
    saveNetworkFiles(dir, this.topology, this.weights(), this.variables.map((v) => v.shape));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
