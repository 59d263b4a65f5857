/**
 * NumPy .npy files (format version 1.0/2.0/3.0), C order, little endian, so that
 * numpy, PyTorch and JAX users load attrib's arrays directly.
 *
 * Every write goes to a temporary name in the same folder and is renamed into place,
 * so a killed process never leaves a file that looks whole. `NpyWriter` appends rows
 * for arrays larger than memory; `readNpyRows` reads a row range without the rest and
 * `readNpyChunks` iterates over one in row chunks. A file whose size does not match its
 * header (truncated, or corrupt) is an NpyError that says so, never garbage.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncFolder, tempName, writeAll } from './atomic.ts';

export type DType = 'float32' | 'float64' | 'int32' | 'uint8' | 'bool';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface NdArray<T extends TypedArray = TypedArray> {
  dtype: DType;
  shape: number[];
  data: T;
}

const DESCR: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  int32: '<i4',
  uint8: '|u1',
  bool: '|b1',
};
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, uint8: 1, bool: 1 };
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export class NpyError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
  }
}

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

export function allocate(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int32': return new Int32Array(length);
    default: return new Uint8Array(length);
  }
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The header bytes, padded so the data starts at a multiple of 64 (what numpy writes). */
function encodeHeader(dtype: DType, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Reserve room so NpyWriter can rewrite the row count in place without moving data.
  dict += ' '.repeat(24);
  const preamble = 10;
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - preamble - 1, ' ') + '\n';
  if (total - preamble > 0xffff) throw new Error('npy header too large');
  const header = Buffer.alloc(total);
  MAGIC.copy(header, 0);
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(total - preamble, 8);
  header.write(dict, preamble, 'latin1');
  return header;
}

export interface NpyHeader {
  dtype: DType;
  shape: number[];
  /** Byte offset of the data. */
  offset: number;
}

function parseHeader(path: string, head: Buffer, fileSize: number): NpyHeader {
  if (head.length < 10 || !head.subarray(0, 6).equals(MAGIC)) throw new NpyError(path, 'not a .npy file (bad magic)');
  const major = head[6];
  let len: number;
  let start: number;
  if (major === 1) {
    len = head.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    len = head.readUInt32LE(8);
    start = 12;
  } else throw new NpyError(path, `unsupported .npy version ${major}`);
  if (head.length < start + len) throw new NpyError(path, 'truncated .npy header');
  const text = head.subarray(start, start + len).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError(path, `corrupt .npy header: ${JSON.stringify(text.trim())}`);
  }
  if (fortran === 'True') throw new NpyError(path, 'Fortran-order arrays are not supported (save with np.ascontiguousarray)');
  const dtype = (Object.keys(DESCR) as DType[]).find((d) => DESCR[d] === descr || (d === 'uint8' && descr === '<u1') || (d === 'bool' && descr === '<b1'));
  if (!dtype) throw new NpyError(path, `unsupported dtype ${descr} (use float32, float64, int32, uint8 or bool)`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(path, `corrupt shape (${shapeText})`);
  const offset = start + len;
  const expected = offset + product(shape) * BYTES[dtype];
  if (fileSize !== expected) {
    throw new NpyError(path, `size ${fileSize} bytes does not match its header (${dtype} ${JSON.stringify(shape)} needs ${expected}): truncated or corrupt`);
  }
  return { dtype, shape, offset };
}

export function readNpyHeader(path: string): NpyHeader {
  const fd = openFor(path);
  try {
    const size = fstatSync(fd).size;
    // Preamble first (magic, version, header length), then exactly the header.
    const pre = Buffer.alloc(Math.min(size, 12));
    readSync(fd, pre, 0, pre.length, 0);
    let total = pre.length;
    if (pre.length >= 10 && pre.subarray(0, 6).equals(MAGIC)) {
      const major = pre[6];
      if (major === 1) total = 10 + pre.readUInt16LE(8);
      else if ((major === 2 || major === 3) && pre.length >= 12) total = 12 + pre.readUInt32LE(8);
    }
    const head = Buffer.alloc(Math.min(size, total));
    readSync(fd, head, 0, head.length, 0);
    return parseHeader(path, head, size);
  } finally {
    closeSync(fd);
  }
}

function openFor(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new NpyError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
}

/** Read a whole array. */
export function readNpy(path: string): NdArray {
  const header = readNpyHeader(path);
  const rows = header.shape.length === 0 ? 1 : header.shape[0];
  const arr = readNpyRows(path, 0, rows, header);
  return { ...arr, shape: header.shape };
}

/** Rows [start, end) of an array (first axis), without reading the rest. */
export function readNpyRows(path: string, start: number, end: number, header = readNpyHeader(path)): NdArray {
  const rows = header.shape.length === 0 ? 1 : header.shape[0];
  if (start < 0 || end > rows || start > end) throw new NpyError(path, `rows [${start}, ${end}) out of range (0..${rows})`);
  const rowLength = product(header.shape.slice(1));
  const data = allocate(header.dtype, (end - start) * rowLength);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const fd = openFor(path);
  try {
    let done = 0;
    const base = header.offset + start * rowLength * BYTES[header.dtype];
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), base + done);
      if (n === 0) throw new NpyError(path, 'unexpected end of file');
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return { dtype: header.dtype, shape: [end - start, ...header.shape.slice(1)], data };
}

/**
 * Reads an array in chunks of `rowsPerChunk` rows (first axis), for arrays larger than
 * memory: `for (const {start, end, array} of readNpyChunks(path, 4096)) ...`.
 */
export function* readNpyChunks(path: string, rowsPerChunk: number): Generator<{ start: number; end: number; array: NdArray }> {
  if (!(rowsPerChunk >= 1)) throw new Error(`readNpyChunks ${path}: rowsPerChunk must be at least 1`);
  const header = readNpyHeader(path);
  if (header.shape.length === 0) throw new NpyError(path, 'a 0-d array has no rows');
  const rows = header.shape[0];
  for (let start = 0; start < rows; start += rowsPerChunk) {
    const end = Math.min(rows, start + rowsPerChunk);
    yield { start, end, array: readNpyRows(path, start, end, header) };
  }
}

/** Rows per chunk so that one chunk holds about `bytes` bytes (at least one row). */
export function rowsForBytes(header: NpyHeader, bytes: number): number {
  const rowBytes = product(header.shape.slice(1)) * BYTES[header.dtype];
  return Math.max(1, Math.floor(bytes / Math.max(1, rowBytes)));
}

/** Write a whole array atomically (temporary name, fsync, rename). */
export function writeNpy(path: string, arr: NdArray | TypedArray, shape?: number[]): void {
  const nd: NdArray = ArrayBuffer.isView(arr) ? { dtype: dtypeOf(arr), shape: shape ?? [arr.length], data: arr } : arr;
  if (product(nd.shape) !== nd.data.length) {
    throw new Error(`writeNpy ${path}: shape ${JSON.stringify(nd.shape)} does not match ${nd.data.length} elements`);
  }
  const writer = new NpyWriter(path, nd.dtype, nd.shape.slice(1));
  writer.append(nd.data);
  if (nd.shape.length === 0) writer.closeScalar();
  else writer.close(nd.shape[0]);
}

/**
 * Appends rows to a .npy under a temporary name; `close()` fixes the row count in the
 * header and renames it into place. `abort()` removes the temporary file.
 */
export class NpyWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private rows = 0;
  private readonly rowLength: number;
  private open = true;

  constructor(readonly path: string, readonly dtype: DType, readonly rowShape: number[]) {
    this.tmp = tempName(path);
    this.rowLength = product(rowShape);
    this.fd = openSync(this.tmp, 'w');
    writeAll(this.fd, encodeHeader(dtype, [0, ...rowShape]));
  }

  /** Append whole rows (data.length must be a multiple of the row length). */
  append(data: TypedArray): void {
    if (!this.open) throw new Error(`NpyWriter ${this.path}: already closed`);
    if (dtypeOf(data) !== this.dtype && !(this.dtype === 'bool' && data instanceof Uint8Array)) {
      throw new Error(`NpyWriter ${this.path}: expected ${this.dtype} data, got ${dtypeOf(data)}`);
    }
    if (this.rowLength > 0 && data.length % this.rowLength !== 0) {
      throw new Error(`NpyWriter ${this.path}: ${data.length} values is not a whole number of rows of ${this.rowLength}`);
    }
    writeAll(this.fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.rows += this.rowLength > 0 ? data.length / this.rowLength : 0;
  }

  get rowCount(): number {
    return this.rows;
  }

  /**
   * Finish: rewrite the header with the final shape, fsync, rename into place. `rows`,
   * when given, must equal the rows appended (a check for the caller's own count).
   */
  close(rows = this.rows): void {
    if (rows !== this.rows) {
      this.abort();
      throw new Error(`NpyWriter ${this.path}: closed with ${rows} rows but ${this.rows} were appended`);
    }
    this.finish([rows, ...this.rowShape]);
  }

  /** Finish a 0-d array (exactly one value appended). */
  closeScalar(): void {
    if (this.rows !== 1 || this.rowShape.length !== 0) {
      this.abort();
      throw new Error(`NpyWriter ${this.path}: a scalar needs exactly one value`);
    }
    this.finish([]);
  }

  private finish(shape: number[]): void {
    if (!this.open) return;
    const header = encodeHeader(this.dtype, shape);
    const original = encodeHeader(this.dtype, [0, ...this.rowShape]);
    if (header.length !== original.length) throw new Error(`NpyWriter ${this.path}: header grew`);
    writeSync(this.fd, header, 0, header.length, 0);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.open = false;
    renameSync(this.tmp, this.path);
    syncFolder(dirname(this.path));
  }

  abort(): void {
    if (!this.open) return;
    closeSync(this.fd);
    this.open = false;
    try {
      unlinkSync(this.tmp);
    } catch {
      /* already gone */
    }
  }
}
