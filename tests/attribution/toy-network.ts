/**
 * A minimal dense Network (models/types.ts contract) for testing gradient factors
 * independently of lib/models: x → [dense → relu]* → dense → logits.
 */
import { tf } from '../../lib/backend.ts';
import type { LinearLayerInfo, Network, TappedForward } from '../../lib/models/types.ts';
import { Rng } from '../../lib/random/rng.ts';

export function toyMlp(sizes: number[], seed = 'toy'): Network {
  const rng = Rng.from('toy-mlp', seed);
  const layers: LinearLayerInfo[] = [];
  const variables: tf.Variable[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [i, o] = [sizes[l], sizes[l + 1]];
    layers.push({ name: `dense_${l}`, kind: 'dense', inDim: i, outDim: o });
    variables.push(tf.variable(tf.tensor2d(rng.fillNormal(new Float32Array(i * o), 1 / Math.sqrt(i)), [i, o])));
    variables.push(tf.variable(tf.tensor1d(rng.fillNormal(new Float32Array(o), 0.1))));
  }
  const forward = (x: tf.Tensor, taps?: tf.Tensor3D[]): TappedForward => {
    const inputs: tf.Tensor3D[] = [];
    const b = x.shape[0];
    let h = tf.reshape(x, [b, -1]) as tf.Tensor2D;
    for (let l = 0; l < layers.length; l++) {
      inputs.push(tf.reshape(tf.concat([h, tf.ones([b, 1])], 1), [b, 1, layers[l].inDim + 1]) as tf.Tensor3D);
      let z = tf.add(tf.matMul(h, variables[2 * l] as tf.Tensor2D), variables[2 * l + 1]) as tf.Tensor2D;
      if (taps) z = tf.add(z, tf.reshape(taps[l], [b, layers[l].outDim]));
      h = l + 1 < layers.length ? tf.relu(z) : z;
    }
    return { logits: h, inputs };
  };
  return {
    layers,
    numParams: layers.reduce((a, l) => a + (l.inDim + 1) * l.outDim, 0),
    variables,
    logits: (x) => tf.tidy(() => forward(x).logits),
    tapShapes: (batch) => layers.map((l) => [batch, 1, l.outDim]),
    forwardTapped: (x, taps) => forward(x, taps),
    save: async () => {
      throw new Error('toy network: save not supported');
    },
    dispose: () => variables.forEach((v) => v.dispose()),
  };
}
