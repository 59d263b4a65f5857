/**
 * A network on disk: tfjs model.json + weights.bin (little-endian float32, the tensors
 * of `weightsManifest` back to back). `modelTopology` holds attrib's Topology, not a
 * Keras one, so `loadNetwork` (models/kinds.ts) rebuilds it; the weights are readable
 * from any language with the manifest (numpy: np.fromfile('weights.bin', '<f4')).
 *
 * A save writes into a temporary folder that is renamed into place, so a killed save
 * never leaves a folder that looks whole.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempName, writeAll } from '../io/atomic.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export interface ModelJson<T = unknown> {
  format: 'attrib-network';
  generatedBy: string;
  convertedBy: null;
  modelTopology: T;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

function writeFileSynced(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes model.json + weights.bin into `dir` atomically. `names` default to
 * `layer<l>/kernel` and `layer<l>/bias` for [W, b] pairs.
 */
export function saveNetworkFiles(dir: string, topology: unknown, weights: Float32Array[], shapes: number[][], names?: string[]): void {
  const tmp = tempName(dir);
  mkdirSync(tmp, { recursive: true });
  const total = weights.reduce((s, w) => s + w.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const w of weights) {
    all.set(w, offset);
    offset += w.length;
  }
  const label = (i: number) => names?.[i] ?? `layer${i >> 1}/${i % 2 === 0 ? 'kernel' : 'bias'}`;
  const json: ModelJson = {
    format: 'attrib-network',
    generatedBy: 'attrib',
    convertedBy: null,
    modelTopology: topology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weights.map((_, i) => ({ name: label(i), shape: shapes[i], dtype: 'float32' })) }],
  };
  writeFileSynced(join(tmp, WEIGHTS_BIN), new Uint8Array(all.buffer));
  writeFileSynced(join(tmp, MODEL_JSON), JSON.stringify(json, null, 1));
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
}

/** Reads model.json and the weight arrays, in manifest order. */
export function readNetworkFiles<T = unknown>(dir: string): { json: ModelJson<T>; weights: Float32Array[] } {
  let json: ModelJson<T>;
  try {
    json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8')) as ModelJson<T>;
  } catch (e) {
    throw new Error(`${join(dir, MODEL_JSON)}: cannot read a saved network: ${(e as Error).message}`);
  }
  if (json.format !== 'attrib-network') throw new Error(`${join(dir, MODEL_JSON)}: format ${JSON.stringify(json.format)} is not an attrib network`);
  const weights: Float32Array[] = [];
  for (const group of json.weightsManifest) {
    const bytes = readFileSync(join(dir, group.paths[0]));
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    let offset = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (offset + n > data.length) throw new Error(`${join(dir, group.paths[0])}: truncated (${data.length} values, manifest needs more)`);
      weights.push(data.slice(offset, offset + n));
      offset += n;
    }
  }
  return { json, weights };
}
