/**
 * The built-in networks (logreg, mlp, cnn) as one sequence of linear blocks, each a
 * dense or conv2d layer (stride 1, 'same' padding, odd kernels), an activation and
 * (conv) a max-pool. The ops come from ./ops.ts, whose gradients suit the wasm backend;
 * the first layer treats the input as data (no gradient with respect to x is computed).
 * forwardTapped gives a conv layer's inputs as im2col patches in [kh, kw, cin] order,
 * the factorization linearization needs (a_p per output position, W flattened to
 * [kh·kw·cin, cout]).
 *
 * Call logits/forwardTapped inside tf.tidy (they do not tidy for the caller, so that
 * they can run under tf.grads).
 */
import { tf } from '../backend.ts';
import type { Rng } from '../random/rng.ts';
import { saveNetworkFiles } from './io.ts';
import { conv2d, conv2dData, im2col, matMul, matMulData, maxPool } from './ops.ts';

export { im2col, maxPool };
import type { LinearLayerInfo, Network, TappedForward } from './types.ts';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'linear';

export type BlockSpec =
  | {
      type: 'dense';
      name: string;
      inDim: number;
      outDim: number;
      activation: Activation;
      /** Dropout rate after the activation, applied only in a training pass (see `logits`). */
      dropout?: number;
    }
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

/**
 * Inverted dropout's multiplier: 0 with probability `rate`, else 1/(1 − rate) (torch's
 * nn.Dropout in training). Drawn from our own stream, not tf's, so a model is the same
 * on every backend.
 */
function dropoutMask(rng: Rng, shape: number[], rate: number): tf.Tensor {
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < rate ? 0 : keep;
  return tf.tensor(mask, shape, 'float32');
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

  logits(x: tf.Tensor, dropout?: Rng): tf.Tensor2D {
    return this.run(x, undefined, undefined, dropout);
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

  private run(x: tf.Tensor, taps?: tf.Tensor3D[], inputs?: tf.Tensor3D[], dropout?: Rng): tf.Tensor2D {
    const batch = x.shape[0];
    let h: tf.Tensor = x;
    this.topology.blocks.forEach((b, l) => {
      const w = this.variables[2 * l];
      const bias = this.variables[2 * l + 1];
      let z: tf.Tensor;
      if (b.type === 'dense') {
        const a = tf.reshape(h, [batch, b.inDim]) as tf.Tensor2D;
        z = tf.add(l === 0 ? matMulData(a, w as tf.Tensor2D) : matMul(a, w as tf.Tensor2D), bias);
        if (taps) z = tf.add(z, tf.reshape(taps[l], [batch, b.outDim]));
        if (inputs) inputs.push(tf.reshape(tf.concat([a, tf.ones([batch, 1])], 1), [batch, 1, b.inDim + 1]) as tf.Tensor3D);
      } else {
        const positions = b.height * b.width;
        const x4 = tf.reshape(h, [batch, b.height, b.width, b.cin]) as tf.Tensor4D;
        z = tf.add(l === 0 ? conv2dData(x4, w as tf.Variable<tf.Rank.R4>) : conv2d(x4, w as tf.Variable<tf.Rank.R4>), bias);
        if (taps) z = tf.add(z, tf.reshape(taps[l], [batch, b.height, b.width, b.cout]));
        if (inputs) {
          const k = inDimOf(b);
          inputs.push(tf.concat([tf.reshape(im2col(x4, b.kernel), [batch, positions, k]), tf.ones([batch, positions, 1])], 2) as tf.Tensor3D);
        }
      }
      h = activate(z, b.activation);
      if (dropout && b.type === 'dense' && b.dropout) h = tf.mul(h, dropoutMask(dropout, h.shape, b.dropout));
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
