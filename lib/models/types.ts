/**
 * What a trained network exposes to the rest of attrib. Training uses `variables` and
 * `logits`; linearization uses `forwardTapped` to get, in one batched backward pass,
 * each layer's inputs a_i and the gradients δ_i of the output with respect to each
 * layer's pre-activation (see projectors/types.ts for how they form per-example
 * gradients).
 *
 * Parameter order (the order of g_i = ∇θ f and of `variables`): layers in forward order;
 * within a layer, [W; b] as one [inDim + 1, outDim] row-major matrix, where a dense W is
 * [in, out] (x·W) and a conv W is [kh, kw, cin, cout] flattened to [kh·kw·cin, cout].
 */
import type { tf } from '../backend.ts';
import type { Rng } from '../random/rng.ts';

export interface LinearLayerInfo {
  name: string;
  kind: 'dense' | 'conv2d';
  /** Fan-in without bias: dense `in`, conv kh·kw·cin. */
  inDim: number;
  /** Units or filters. */
  outDim: number;
}

export interface TappedForward {
  logits: tf.Tensor2D;
  /**
   * Per layer, [B, P, inDim + 1]: the layer's input at each of P positions (P = 1 for
   * dense; output positions for conv, as im2col patches), with a trailing 1 for the bias.
   */
  inputs: tf.Tensor3D[];
}

export interface Network {
  readonly layers: LinearLayerInfo[];
  readonly numParams: number;
  /** Trainable variables, [W, b] per layer in forward order. */
  readonly variables: tf.Variable[];
  /**
   * Logits [B, classes] for inputs [B, ...featureShape]: the inference pass. With a
   * `dropout` stream it is the training pass instead (dropout layers, if the network has
   * any, drop units drawn from it); fit passes one, evaluation and attribution never do.
   */
  logits(x: tf.Tensor, dropout?: Rng): tf.Tensor2D;
  /**
   * Shapes of each layer's pre-activation for a batch of B, as [B, P, outDim]. `taps`
   * passed to forwardTapped must have these shapes.
   */
  tapShapes(batch: number): [number, number, number][];
  /**
   * Forward pass that adds taps[l] (zeros of tapShapes) to layer l's pre-activation.
   * Because example i's output depends only on row i, ∂(Σ_i f_i)/∂taps[l] gives every
   * example's δ_l at once: use tf.grads over the taps.
   */
  forwardTapped(x: tf.Tensor, taps: tf.Tensor3D[]): TappedForward;
  /** Save as tfjs model.json + weights in dir (atomically). */
  save(dir: string): Promise<void>;
  dispose(): void;
}

/** Margin f(z; θ) = logit_y − logsumexp_{y'≠y} logit_{y'}; p = σ(f) is the correct-class probability. */
export type MarginFn = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;
