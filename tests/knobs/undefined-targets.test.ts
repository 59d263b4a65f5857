/**
 * Knob scores drop targets whose rank correlation is undefined (a constant prediction or
 * outcome over the draws) from the mean and count them, as lds does; when every target
 * is undefined there is no score and the stage fails with one line.
 */
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET, KNOBS } from '../../lib/artifacts.ts';
import { readNpy, writeNpy } from '../../lib/io/npy.ts';
import type { KnobDraws } from '../../lib/knobs/draws.ts';
import { writeKnobReport, type KnobReport } from '../../lib/knobs/evaluate.ts';
import { Rng } from '../../lib/random/rng.ts';
import { tmp } from '../engine/helpers.ts';

function report(truth: number[][], predictions: number[][]): KnobReport {
  const T = truth.length;
  const K = truth[0].length;
  const dataDir = tmp('attrib-knob-data-');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, DATASET.meta), JSON.stringify({ classNames: ['a', 'b'] }));
  writeNpy(join(dataDir, DATASET.yTest), Int32Array.from({ length: T }, (_, j) => j % 2), [T]);
  const draws = { count: K, nTrain: 4, d: 1, theta: new Float32Array(K), inclusion: new Float32Array(K), groupOf: new Int32Array(4), meta: { names: ['g'], mode: 'fractions' } } as unknown as KnobDraws;
  return {
    method: 'knobmodel', T, K, draws, dataDir,
    predictions: Float64Array.from(predictions.flat()), truth: Float64Array.from(truth.flat()),
    slopes: new Float64Array(T), targetIndex: Int32Array.from({ length: T }, (_, j) => j),
    bootstrap: 0, ci: 0.95, rng: Rng.from(1), seedsPerDraw: 1,
  };
}

test('an undefined target is dropped from the knob score and counted, not averaged in as 0', (t) => {
  const out = tmp('attrib-knob-report-');
  mkdirSync(out, { recursive: true });
  const lines: string[] = [];
  // Target 0 ranks the draws perfectly (ρ = 1), target 1 swaps two (ρ = 0.8, below),
  // target 2 has a constant outcome (undefined).
  const metrics = writeKnobReport(out, report([[1, 2, 3, 4], [1, 3, 2, 4], [5, 5, 5, 5]], [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]), (l) => lines.push(l));
  // Spearman of [1,2,3,4] with [1,3,2,4]: 1 − 6·(0 + 1 + 1 + 0)/(4·15) = 0.8.
  t.is(metrics.undefinedTargets, 1);
  t.true(Math.abs((metrics.spearman as number) - (1 + 0.8) / 2) < 1e-12, `spearman ${metrics.spearman}`);
  t.true(lines.some((l) => l === 'knobmodel: 1 of 3 targets had a constant prediction or outcome: dropped from the mean'), lines.join('\n'));
  const per = readNpy(join(out, KNOBS.perTarget)).data as Float32Array;
  t.true(Number.isNaN(per[2]));
});

test('every target undefined: an error, not a score of 0', (t) => {
  const out = tmp('attrib-knob-report-');
  mkdirSync(out, { recursive: true });
  const e = t.throws(() => writeKnobReport(out, report([[5, 5, 5], [2, 2, 2]], [[1, 2, 3], [1, 2, 3]]), () => {}));
  t.is(e!.message, 'knobmodel: every one of the 2 targets has an undefined rank correlation (0 with constant predictions, 2 with a constant outcome over the draws): there is no score to report');
});
