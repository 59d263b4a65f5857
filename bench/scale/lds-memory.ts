/**
 * The memory check of issue 19 that the timing series leaves out: the LDS over
 * 10,000 targets × 60,000 training examples (a 2.4 GB float32 scores.npy), 50 subsets.
 * Producing those scores for real costs targets · n · k · S flops (25 TFLOP for TRAK at
 * k = 2048, S = 10: about 40 min here), so the file is synthetic; what is measured is the
 * code the lds and select stages run on it (subsetPredictionsOfNpy, then the per-target
 * Spearman), whose memory does not depend on the values.
 *
 *   node --import tsx bench/scale/lds-memory.ts make <dir>    # writes <dir>/scores.npy (blocks)
 *   /usr/bin/time -f '%e s %M KB' node --import tsx bench/scale/lds-memory.ts lds <dir>
 *
 * bench/scale/run.ts --memory-check runs both and records the peak RSS of the second.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NpyWriter } from '../../lib/io/npy.ts';
import { Rng } from '../../lib/random/rng.ts';
import { subsetPredictionsOfNpy } from '../../lib/evaluation/ground-truth.ts';
import { ldsPerTarget, meanDefined } from '../../lib/evaluation/linear-datamodeling.ts';

export const TARGETS = 10_000;
export const TRAIN = 60_000;
export const SUBSETS = 50;

function masks(): Uint8Array {
  const rng = Rng.from(7, 'lds-memory', 'masks');
  const m = new Uint8Array(SUBSETS * TRAIN);
  for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < 0.5 ? 1 : 0;
  return m;
}

function make(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const rng = Rng.from(7, 'lds-memory', 'scores');
  const writer = new NpyWriter(join(dir, 'scores.npy'), 'float32', [TRAIN]);
  const rows = 256;
  for (let r = 0; r < TARGETS; r += rows) {
    const block = new Float32Array(Math.min(rows, TARGETS - r) * TRAIN);
    rng.fillNormal(block, 1);
    writer.append(block);
  }
  writer.close();
}

function lds(dir: string): void {
  const t0 = performance.now();
  const predictions = subsetPredictionsOfNpy(join(dir, 'scores.npy'), masks(), SUBSETS);
  const rng = Rng.from(7, 'lds-memory', 'truth');
  const truth = new Float64Array(TARGETS * SUBSETS);
  for (let i = 0; i < truth.length; i++) truth[i] = rng.uniform();
  const { spearman } = ldsPerTarget(predictions, truth, TARGETS, SUBSETS);
  const { mean, defined } = meanDefined(spearman);
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ targets: TARGETS, train: TRAIN, subsets: SUBSETS, lds: mean, defined, seconds: (performance.now() - t0) / 1000, peakRssMb: rss }));
}

const [verb, dir] = process.argv.slice(2);
if (verb === 'make' && dir) make(dir);
else if (verb === 'lds' && dir && existsSync(join(dir, 'scores.npy'))) lds(dir);
else {
  console.error('usage: lds-memory.ts make <dir> | lds <dir> (after make)');
  process.exit(2);
}
