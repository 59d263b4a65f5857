/**
 * The deterministic train/test split of a loaded source, and the materialized float32
 * rows. A pool is permuted with the split's Rng: the first `train` rows are the train
 * split, the next `test` the test split. Given train and test parts are used as they
 * are; asking for fewer rows than a part has takes a seeded subset, kept in file order.
 * `take: 'first'` takes rows in file order instead of at random: a pool's first `train`
 * rows then its next `test`, or a given part's first rows (what a benchmark means by
 * "the first 5000 training images").
 */
import type { Rng } from '../random/rng.ts';
import { DataSourceError, type LoadedSource, type SourcePart } from './source.ts';

export interface Split {
  /** Rows of the pool (or of the train part when `given`). */
  trainIndex: Int32Array;
  /** Rows of the pool (or of the test part when `given`). */
  testIndex: Int32Array;
  /** True when the source gave train and test parts. */
  given: boolean;
}

/** How the rows of a split are chosen: a seeded random subset (default) or the first rows in file order. */
export type Take = 'random' | 'first';

export function splitIndices(name: string, source: LoadedSource, train: number | undefined, test: number | undefined, rng: Rng, take: Take = 'random'): Split {
  const first = (from: number, n: number) => Int32Array.from({ length: n }, (_, i) => from + i);
  if (source.pool) {
    const n = source.pool.n;
    if (train === undefined || test === undefined) {
      throw new DataSourceError(`source ${name} is one pool of ${n} examples: give both train and test sizes`);
    }
    if (train + test > n) {
      throw new DataSourceError(`source ${name} has ${n} examples: train ${train} + test ${test} = ${train + test} exceeds it`);
    }
    if (take === 'first') return { trainIndex: first(0, train), testIndex: first(train, test), given: false };
    const perm = rng.split('pool').permutation(n);
    return { trainIndex: perm.slice(0, train), testIndex: perm.slice(train, train + test), given: false };
  }
  const pick = (part: SourcePart, want: number | undefined, which: string): Int32Array => {
    if (want === undefined || want === part.n) return first(0, part.n);
    if (want > part.n) throw new DataSourceError(`source ${name} has ${part.n} ${which} examples: cannot provide ${which} ${want}`);
    if (take === 'first') return first(0, want);
    return rng.split(which).permutation(part.n).slice(0, want).sort();
  };
  return { trainIndex: pick(source.train!, train, 'train'), testIndex: pick(source.test!, test, 'test'), given: true };
}

/** float32 [index.length · featureSize]: the chosen rows, uint8 parts scaled. */
export function materialize(part: SourcePart, index: Int32Array, featureSize: number): Float32Array {
  const out = new Float32Array(index.length * featureSize);
  const scale = part.scale ?? 1;
  for (let r = 0; r < index.length; r++) {
    const from = index[r] * featureSize;
    if (part.x instanceof Float32Array && scale === 1) out.set(part.x.subarray(from, from + featureSize), r * featureSize);
    else for (let j = 0; j < featureSize; j++) out[r * featureSize + j] = part.x[from + j] * scale;
  }
  return out;
}

export function gatherLabels(part: SourcePart, index: Int32Array): Int32Array {
  return Int32Array.from(index, (i) => part.y[i]);
}

export function gatherGroups(part: SourcePart, index: Int32Array): Int32Array {
  return Int32Array.from(index, (i) => part.group![i]);
}
