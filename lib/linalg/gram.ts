/**
 * Gram and cross products accumulated over row chunks, never holding X whole:
 *
 *     XᵀX = Σ_chunks X_cᵀ X_c            (optionally Σ w_i x_i x_iᵀ)
 *     XᵀY = Σ_chunks X_cᵀ Y_c
 *
 * Each chunk's product runs as a float32 tfjs matMul on the current backend (call
 * initBackend first), with an explicit tf.transpose (on wasm the transposeA flag is
 * 10-50x slower); chunks are summed in float64 in JS, so the rounding error grows with
 * the chunk length, not with n. For XᵀX only the upper block triangle is computed
 * (column blocks Xᵢᵀ X_{j≥i}: 62.5% of the flops with 4 blocks) and mirrored at the end.
 *
 * Row-major float32 chunks in, row-major float64 [k, k] (or [kx, ky]) out, ready for
 * cholesky / ridgeSolve.
 */
import { tf } from '../backend.ts';
import { readNpyChunks, readNpyHeader, rowsForBytes, type NdArray } from '../io/npy.ts';

/** Column blocks for the symmetric product: more blocks, fewer flops, smaller matMuls. */
function blocksFor(k: number): number {
  return k >= 1024 ? 4 : k >= 256 ? 2 : 1;
}

function asFloat32(data: ArrayLike<number>): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

export class GramAccumulator {
  private readonly g: Float64Array;
  private readonly edges: number[];
  private n = 0;

  constructor(readonly k: number, blocks = blocksFor(k)) {
    this.g = new Float64Array(k * k);
    const b = Math.max(1, Math.min(blocks, k));
    this.edges = Array.from({ length: b + 1 }, (_, i) => Math.round((i * k) / b));
  }

  /** Rows added so far. */
  get rows(): number {
    return this.n;
  }

  /** Adds XᵀX (or Xᵀdiag(w)X) of one chunk: x is [rows, k] row-major. */
  add(x: ArrayLike<number>, rows = x.length / this.k, weights?: ArrayLike<number>): void {
    const k = this.k;
    if (!Number.isInteger(rows) || x.length !== rows * k) throw new Error(`GramAccumulator.add: ${x.length} values is not [${rows}, ${k}]`);
    if (weights && weights.length !== rows) throw new Error(`GramAccumulator.add: ${weights.length} weights for ${rows} rows`);
    if (rows === 0) return;
    const xt = tf.tensor2d(asFloat32(x), [rows, k]);
    const wt = weights ? tf.tensor2d(asFloat32(weights), [rows, 1]) : undefined;
    try {
      for (let b = 0; b + 1 < this.edges.length; b++) {
        const c0 = this.edges[b];
        const kb = this.edges[b + 1] - c0;
        const part = tf.tidy(() => {
          let left = tf.slice(xt, [0, c0], [rows, kb]);
          if (wt) left = tf.mul(left, wt);
          const right = c0 === 0 ? xt : tf.slice(xt, [0, c0], [rows, k - c0]);
          return tf.matMul(tf.transpose(left), right);
        });
        const v = part.dataSync();
        part.dispose();
        const w = k - c0;
        for (let i = 0; i < kb; i++) {
          const gi = (c0 + i) * k + c0;
          const vi = i * w;
          // Only j ≥ i of the diagonal block is used; summing the rest is harmless.
          for (let j = 0; j < w; j++) this.g[gi + j] += v[vi + j];
        }
      }
    } finally {
      xt.dispose();
      wt?.dispose();
    }
    this.n += rows;
  }

  /** XᵀX so far, [k, k] row-major float64, symmetric (upper triangle mirrored). */
  result(): Float64Array {
    const k = this.k;
    const out = Float64Array.from(this.g);
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) out[j * k + i] = out[i * k + j];
    return out;
  }
}

export class CrossAccumulator {
  private readonly c: Float64Array;
  private n = 0;

  constructor(readonly kx: number, readonly ky: number) {
    this.c = new Float64Array(kx * ky);
  }

  get rows(): number {
    return this.n;
  }

  /** Adds XᵀY of one chunk: x is [rows, kx], y is [rows, ky], row-major. */
  add(x: ArrayLike<number>, y: ArrayLike<number>, rows = x.length / this.kx): void {
    if (!Number.isInteger(rows) || x.length !== rows * this.kx || y.length !== rows * this.ky) {
      throw new Error(`CrossAccumulator.add: expected [${rows}, ${this.kx}] and [${rows}, ${this.ky}], got ${x.length} and ${y.length} values`);
    }
    if (rows === 0) return;
    const part = tf.tidy(() => tf.matMul(tf.transpose(tf.tensor2d(asFloat32(x), [rows, this.kx])), tf.tensor2d(asFloat32(y), [rows, this.ky])));
    const v = part.dataSync();
    part.dispose();
    for (let i = 0; i < v.length; i++) this.c[i] += v[i];
    this.n += rows;
  }

  /** XᵀY so far, [kx, ky] row-major float64. */
  result(): Float64Array {
    return Float64Array.from(this.c);
  }
}

/** XᵀX of an in-memory X [n, k] (row-major), in chunks of `chunkRows`. */
export function gram(x: ArrayLike<number>, n: number, k: number, chunkRows = defaultChunkRows(k)): Float64Array {
  if (x.length !== n * k) throw new Error(`gram: ${x.length} values is not [${n}, ${k}]`);
  const acc = new GramAccumulator(k);
  for (let r0 = 0; r0 < n; r0 += chunkRows) {
    const r1 = Math.min(n, r0 + chunkRows);
    acc.add(sub(x, r0 * k, r1 * k), r1 - r0);
  }
  return acc.result();
}

export interface NpyGramOptions {
  /** Bytes of X per chunk (default 16 MiB). */
  chunkBytes?: number;
  /** Per-row weights w (length n): Xᵀ diag(w) X. */
  weights?: ArrayLike<number>;
}

/** XᵀX of a float32 .npy [n, k], streamed from disk in row chunks. */
export function gramOfNpy(path: string, opts: NpyGramOptions = {}): { gram: Float64Array; n: number; k: number } {
  const header = readNpyHeader(path);
  const [n, k] = matrixShape(path, header.shape);
  if (opts.weights && opts.weights.length !== n) throw new Error(`gramOfNpy ${path}: ${opts.weights.length} weights for ${n} rows`);
  const acc = new GramAccumulator(k);
  for (const { start, end, array } of readNpyChunks(path, rowsForBytes(header, opts.chunkBytes ?? 16 << 20))) {
    acc.add(float32(path, array), end - start, opts.weights ? sub(opts.weights, start, end) : undefined);
  }
  return { gram: acc.result(), n, k };
}

/** XᵀY of two float32 .npy files with the same number of rows, streamed in row chunks. */
export function crossOfNpy(pathX: string, pathY: string, opts: { chunkBytes?: number } = {}): { cross: Float64Array; n: number; kx: number; ky: number } {
  const hx = readNpyHeader(pathX);
  const hy = readNpyHeader(pathY);
  const [n, kx] = matrixShape(pathX, hx.shape);
  const [ny, ky] = matrixShape(pathY, hy.shape);
  if (n !== ny) throw new Error(`crossOfNpy: ${pathX} has ${n} rows but ${pathY} has ${ny}`);
  const acc = new CrossAccumulator(kx, ky);
  const rows = rowsForBytes({ ...hx, shape: [n, Math.max(kx, ky)] }, opts.chunkBytes ?? 16 << 20);
  const ys = readNpyChunks(pathY, rows);
  for (const { end, start, array } of readNpyChunks(pathX, rows)) {
    const y = ys.next().value!;
    acc.add(float32(pathX, array), float32(pathY, y.array), end - start);
  }
  return { cross: acc.result(), n, kx, ky };
}

function defaultChunkRows(k: number): number {
  return Math.max(256, Math.floor((4 << 20) / Math.max(1, k)));
}

function matrixShape(path: string, shape: number[]): [number, number] {
  if (shape.length !== 2) throw new Error(`${path}: expected a 2-d array, got shape ${JSON.stringify(shape)}`);
  return [shape[0], shape[1]];
}

function float32(path: string, a: NdArray): Float32Array {
  if (a.dtype === 'float32') return a.data as Float32Array;
  if (a.dtype === 'float64') return Float32Array.from(a.data);
  throw new Error(`${path}: expected float32 or float64 values, got ${a.dtype}`);
}

function sub(x: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  if (ArrayBuffer.isView(x)) return (x as unknown as Float32Array).subarray(start, end);
  return Array.prototype.slice.call(x, start, end) as number[];
}
