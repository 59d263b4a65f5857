/**
 * The training loop: minibatch steps of mean cross-entropy over a subset of the train
 * split, batched on the default tfjs backend. Epoch e visits the subset in the order of
 * a permutation drawn from rng.split('epoch', e) (the last batch may be smaller), and
 * a network with dropout draws its masks from rng.split('dropout', e); the
 * learning rate follows the schedule step by step. Batches are assembled in JavaScript
 * and uploaded (on wasm, tf.gather of 64 rows of 784 costs 5x more than the copy).
 */
import { tf } from '../backend.ts';
import { crossEntropy } from '../models/margin.ts';
import type { Network } from '../models/types.ts';
import type { Rng } from '../random/rng.ts';
import { makeOptimizer } from './optimizers.ts';
import { learningRate, type FitSpec } from './recipe.ts';

export interface FitData {
  /** All train examples, float32 [nTrain · featureSize] row-major. */
  x: Float32Array;
  featureShape: number[];
  /** int32 [nTrain]. */
  y: Int32Array;
  /** Rows of x this model trains on. */
  rows: Int32Array;
}

export interface EpochReport {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Mean learning rate over the epoch's steps (what TracIn weighs a checkpoint by). */
  lr: number;
  lrFirst: number;
  lrLast: number;
  steps: number;
  seconds: number;
}

export class DivergedError extends Error {}

/**
 * A loss this far above the first step's loss is a run that blew up, even while it stays
 * finite (Adam at lr 1e6 reaches margins of 1e23 and chance accuracy without a NaN).
 * Healthy training never comes near it: the starting cross-entropy is about ln(classes).
 */
export const RUNAWAY_FACTOR = 100;
/** Floor of the runaway threshold, for models whose starting loss is already tiny. */
export const RUNAWAY_FLOOR = 100;

/** Why `loss` means training diverged (non-finite, or runaway above the starting loss), else undefined. */
export function divergence(loss: number, startingLoss: number): string | undefined {
  if (!Number.isFinite(loss)) return `loss ${loss}`;
  const limit = Math.max(RUNAWAY_FACTOR * startingLoss, RUNAWAY_FLOOR);
  if (loss > limit) return `loss ${loss.toPrecision(3)} (starting loss ${startingLoss.toPrecision(3)}, limit ${limit.toPrecision(3)})`;
  return undefined;
}

export async function fit(
  net: Network,
  data: FitData,
  spec: FitSpec,
  rng: Rng,
  hooks: { onEpoch?(report: EpochReport): void | Promise<void>; progress?(fraction: number): void } = {},
): Promise<EpochReport[]> {
  const n = data.rows.length;
  if (n === 0) throw new Error('fit: the subset is empty');
  const batch = Math.min(spec.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / batch);
  const total = spec.epochs * stepsPerEpoch;
  const optimizer = makeOptimizer(spec.optimizer, net.variables, spec.weightDecay);
  const names = net.variables.map((v) => v.name);
  const reports: EpochReport[] = [];
  const size = data.featureShape.reduce((a, b) => a * b, 1);
  const xFull = new Float32Array(batch * size);
  const yFull = new Int32Array(batch);
  let t = 0;
  let startingLoss = NaN;
  try {
    for (let epoch = 1; epoch <= spec.epochs; epoch++) {
      const started = performance.now();
      const order = rng.split('epoch', epoch).permutation(n);
      const dropout = rng.split('dropout', epoch);
      let lossSum = 0;
      let lrSum = 0;
      let lrFirst = NaN;
      let lrLast = NaN;
      for (let s = 0; s < stepsPerEpoch; s++, t++) {
        const from = s * batch;
        const rows = Math.min(batch, n - from);
        const xs = rows === batch ? xFull : xFull.subarray(0, rows * size);
        const ys = rows === batch ? yFull : yFull.subarray(0, rows);
        for (let i = 0; i < rows; i++) {
          const r = data.rows[order[from + i]];
          xs.set(data.x.subarray(r * size, (r + 1) * size), i * size);
          ys[i] = data.y[r];
        }
        const lr = learningRate(spec.schedule, spec.optimizer.lr, t, total);
        const loss = tf.tidy(() => {
          const xb = tf.tensor(xs, [rows, ...data.featureShape], 'float32');
          const yb = tf.tensor1d(ys, 'int32');
          const { value, grads } = tf.variableGrads(() => crossEntropy(net.logits(xb, dropout), yb), net.variables);
          optimizer.step(names.map((name) => grads[name]), lr);
          return value;
        });
        const value = loss.dataSync()[0];
        loss.dispose();
        if (t === 0) startingLoss = value;
        const diverged = divergence(value, Number.isFinite(startingLoss) ? startingLoss : value);
        if (diverged) {
          throw new DivergedError(`training diverged: ${diverged} at epoch ${epoch}, step ${s + 1} (lr ${lr.toPrecision(3)}): lower the learning rate`);
        }
        lossSum += value;
        lrSum += lr;
        if (s === 0) lrFirst = lr;
        lrLast = lr;
      }
      const report: EpochReport = { epoch, loss: lossSum / stepsPerEpoch, lr: lrSum / stepsPerEpoch, lrFirst, lrLast, steps: stepsPerEpoch, seconds: (performance.now() - started) / 1000 };
      reports.push(report);
      hooks.progress?.(epoch / spec.epochs);
      await hooks.onEpoch?.(report);
    }
  } finally {
    optimizer.dispose();
  }
  return reports;
}
