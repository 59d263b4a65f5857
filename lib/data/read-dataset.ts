/**
 * Reading a `dataset` artifact (lib/artifacts.ts DATASET), cached within the process:
 * store entries never change once written, so every stage in a thread reads each data
 * set from disk once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET, type DatasetMeta } from '../artifacts.ts';
import { tf } from '../backend.ts';
import { readNpy } from '../io/npy.ts';

export interface Dataset {
  /** The store entry it was read from. */
  dir: string;
  meta: DatasetMeta;
  /** float32 [nTrain · featureSize], normalized. */
  xTrain: Float32Array;
  /** int32 [nTrain]. */
  yTrain: Int32Array;
  xTest: Float32Array;
  yTest: Int32Array;
  trainIndex: Int32Array;
  testIndex: Int32Array;
}

const cache = new Map<string, Dataset>();

/** Loads a dataset artifact from its store entry. */
export function loadDataset(dir: string): Dataset {
  let ds = cache.get(dir);
  if (!ds) {
    const meta = JSON.parse(readFileSync(join(dir, DATASET.meta), 'utf8')) as DatasetMeta;
    const read = (name: string) => readNpy(join(dir, name)).data;
    ds = {
      dir,
      meta,
      xTrain: read(DATASET.xTrain) as Float32Array,
      yTrain: read(DATASET.yTrain) as Int32Array,
      xTest: read(DATASET.xTest) as Float32Array,
      yTest: read(DATASET.yTest) as Int32Array,
      trainIndex: read(DATASET.trainIndex) as Int32Array,
      testIndex: read(DATASET.testIndex) as Int32Array,
    };
    cache.set(dir, ds);
  }
  return ds;
}

export function featureSize(meta: DatasetMeta): number {
  return meta.featureShape.reduce((a, b) => a * b, 1);
}

/**
 * Features of a split as a tensor [n, ...featureShape] (all rows, or `rows` of them).
 * The caller owns (disposes) it.
 */
export function featureTensor(ds: Dataset, split: 'train' | 'test', rows?: ArrayLike<number>): tf.Tensor {
  const x = split === 'train' ? ds.xTrain : ds.xTest;
  const size = featureSize(ds.meta);
  if (!rows) return tf.tensor(x, [x.length / size, ...ds.meta.featureShape], 'float32');
  const out = new Float32Array(rows.length * size);
  for (let r = 0; r < rows.length; r++) out.set(x.subarray(rows[r] * size, (rows[r] + 1) * size), r * size);
  return tf.tensor(out, [rows.length, ...ds.meta.featureShape], 'float32');
}

/** Labels of a split as an int32 tensor [n] (all rows, or `rows`). The caller disposes it. */
export function labelTensor(ds: Dataset, split: 'train' | 'test', rows?: ArrayLike<number>): tf.Tensor1D {
  const y = split === 'train' ? ds.yTrain : ds.yTest;
  return tf.tensor1d(rows ? Int32Array.from(rows as ArrayLike<number>, (r) => y[r]) : y, 'int32');
}
