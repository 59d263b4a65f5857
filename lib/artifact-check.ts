/**
 * Checks arrays written by a program outside attrib (a command stage's script, an
 * imported .npy) against the artifact contract (lib/artifacts.ts, docs/artifacts.md):
 * the file is there, its dtype and shape are the contract's, and (for float arrays)
 * every value is finite. Each problem is one line that names the file and says how to
 * fix it, so a broken script fails before anything it wrote enters the store.
 *
 * A shape is a list of dims: a number is exact; a name ('k', 'models') is bound by the
 * first array that has it and must agree in every later one.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NpyError, readNpyChunks, readNpyHeader, rowsForBytes, type DType, type NpyHeader } from './io/npy.ts';

export type Dim = number | string;

export interface ArrayContract {
  /** File name relative to the folder checked. */
  file: string;
  dtype: DType;
  /** Further dtypes taken as they are and converted by the reader (float64 for float32 on import). */
  accept?: DType[];
  shape: Dim[];
  /** Reject NaN and ±Inf (default true for float arrays). */
  finite?: boolean;
  /** Inclusive bounds of every value (e.g. probabilities in [0, 1]). */
  range?: [number, number];
  /** Only checked when the file exists. */
  optional?: boolean;
}

export class ContractError extends Error {}

/** numpy's names for the dtypes of .npy descr strings, for messages people act on. */
const NUMPY: Record<string, string> = {
  '<f2': 'float16', '<f4': 'float32', '<f8': 'float64', '<i1': 'int8', '|i1': 'int8', '<i2': 'int16', '<i4': 'int32', '<i8': 'int64',
  '|u1': 'uint8', '<u1': 'uint8', '<u2': 'uint16', '<u4': 'uint32', '<u8': 'uint64', '|b1': 'bool', '<b1': 'bool',
};

const show = (shape: readonly Dim[]) => `[${shape.join(', ')}]`;

/** The header of `path`, with dtype problems said in numpy's words. */
function header(path: string, file: string, want: DType, who: string): NpyHeader {
  try {
    return readNpyHeader(path);
  } catch (e) {
    if (!(e instanceof NpyError)) throw e;
    const descr = /unsupported dtype (\S+)/.exec(e.message)?.[1];
    if (descr) throw new ContractError(`${who}: ${file} is ${NUMPY[descr] ?? descr}, expected ${want} (save it with .astype(np.${want}))`);
    throw new ContractError(`${who}: ${file}: ${e.message.slice(path.length + 2)}`);
  }
}

/**
 * Checks `contracts` in `dir`; `dims` holds the sizes known beforehand (nTrain, ...) and
 * receives the ones the arrays bind. Throws ContractError at the first problem.
 */
export function checkArrays(dir: string, contracts: readonly ArrayContract[], dims: Record<string, number>, who: string): Record<string, number> {
  for (const c of contracts) {
    const path = join(dir, c.file);
    if (!existsSync(path)) {
      if (c.optional) continue;
      const wrote = existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
      throw new ContractError(`${who}: missing output file ${c.file} (${c.dtype} ${show(c.shape)}); the program wrote ${wrote.length ? wrote.join(', ') : 'nothing'}`);
    }
    const h = header(path, c.file, c.dtype, who);
    if (h.dtype !== c.dtype && !c.accept?.includes(h.dtype)) throw new ContractError(`${who}: ${c.file} is ${h.dtype}, expected ${c.dtype} (save it with .astype(np.${c.dtype}))`);
    const expected = c.shape.map((d) => (typeof d === 'number' ? d : (dims[d] ?? d)));
    const ok = h.shape.length === c.shape.length && c.shape.every((d, i) => {
      const want = typeof d === 'number' ? d : dims[d];
      return want === undefined || want === h.shape[i];
    });
    if (!ok) throw new ContractError(`${who}: ${c.file} has shape ${show(h.shape)}, expected ${show(expected)}${c.shape.some((d) => typeof d === 'string') ? ` (${c.shape.filter((d) => typeof d === 'string').map((d) => `${d} = ${dims[d as string] ?? 'any'}`).join(', ')})` : ''}`);
    c.shape.forEach((d, i) => {
      if (typeof d === 'string' && dims[d] === undefined) dims[d] = h.shape[i];
    });
    checkValues(path, c, h, who);
  }
  return dims;
}

/** Streams the values once (≤ 16 MiB at a time): finiteness and range. */
function checkValues(path: string, c: ArrayContract, h: NpyHeader, who: string): void {
  const float = h.dtype === 'float32' || h.dtype === 'float64';
  const finite = c.finite ?? float;
  if (!finite && !c.range) return;
  if (h.shape.length === 0 || h.shape.includes(0)) return;
  const rowLength = h.shape.slice(1).reduce((a, b) => a * b, 1);
  const at = (flat: number) => (h.shape.length === 1 ? `[${flat}]` : `[${Math.floor(flat / rowLength)}, ${flat % rowLength}]`);
  for (const { start, array } of readNpyChunks(path, rowsForBytes(h, 16 << 20))) {
    const data = array.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (finite && !Number.isFinite(v)) throw new ContractError(`${who}: ${c.file} has ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf'} at ${at(start * rowLength + i)}`);
      if (c.range && (v < c.range[0] || v > c.range[1])) throw new ContractError(`${who}: ${c.file} has ${v} at ${at(start * rowLength + i)}, outside [${c.range[0]}, ${c.range[1]}]`);
    }
  }
}
