/**
 * TensorFlow.js backend selection, once per thread. (Minimal version: the numeric-core
 * issue extends it with tfjs-node / tfjs-node-gpu detection.)
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };

export interface BackendInUse {
  name: string;
  reason: string;
}

let current: Promise<BackendInUse> | undefined;

export function initBackend(requested = 'auto'): Promise<BackendInUse> {
  current ??= (async () => {
    const name = requested === 'cpu' ? 'cpu' : 'wasm';
    await tf.setBackend(name);
    await tf.ready();
    return { name, reason: requested === 'auto' ? 'auto: default' : 'requested' };
  })();
  return current;
}
