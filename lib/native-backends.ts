/**
 * The optional native tfjs packages and a cheap guess of what `backend: auto` picks,
 * without loading TensorFlow.js (`attrib --version` prints it and must start at once;
 * lib/backend.ts does the real selection, which also tries to load them).
 */
import { createRequire } from 'node:module';

export const NATIVE = {
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
} as const;

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** e.g. "wasm (@tensorflow/tfjs-node is not installed)"; an installed native package that fails to load still falls back to wasm at run time. */
export function autoBackendGuess(): string {
  for (const name of ['tensorflow-gpu', 'tensorflow'] as const) {
    if (installed(NATIVE[name])) return `${name} (${NATIVE[name]} is installed)`;
  }
  return `wasm (${NATIVE.tensorflow} is not installed)`;
}
