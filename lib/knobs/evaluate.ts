/**
 * Scoring knob predictions the way LDS scores subset predictions, and the `knobs`
 * artifact both knobmodel and knob-predict write (lib/artifacts.ts KNOBS), so the two
 * line up side by side:
 *
 *   spearman_j = spearman_k( ŷ_j(θ_k), ȳ_j(θ_k) )     over the held-out draws k
 *   spearman   = mean_j spearman_j      over the targets where it is defined (as lds:
 *                undefined ones, a constant prediction or truth, are dropped and counted)
 *
 * ȳ_j(θ_k) is the margin of target j averaged over the seeds trained on draw k. Slopes
 * ∂ŷ_j/∂θ_g say which knob moves which target; under a mixture (Σθ = 1) only their
 * differences are identifiable, so they are centered over the knobs there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET, KNOBS, MODELS, type DatasetMeta } from '../artifacts.ts';
import { writeJsonAtomic } from '../io/json.ts';
import { ldsPerTarget, marginsPerMask, summarize } from '../evaluation/linear-datamodeling.ts';
import { readNpy, readNpyHeader, writeNpy } from '../io/npy.ts';
import { pearson } from '../linalg/index.ts';
import type { Rng } from '../random/rng.ts';
import type { KnobDraws } from './draws.ts';
import { KnobError } from './groups.ts';

/** Numbers a person reads first (the engine stores them in the manifest): plain JSON values. */
export type Metrics = Record<string, number | string | boolean | null>;

/** A train stage over knob draws: θ of every draw and the seed-averaged margins of the targets. */
export interface KnobOutcomes {
  draws: KnobDraws;
  /** [T, count]: ȳ_j(θ_k). */
  truth: Float64Array;
  seedsPerDraw: number;
  nTest: number;
}

/** Number of test examples the models in store entry `modelsDir` were scored on. */
export function testCount(modelsDir: string): number {
  return readNpyHeader(join(modelsDir, MODELS.marginsTest)).shape[1];
}

/** The models in store entry `modelsDir`, trained on the knob `draws`, as outcomes of the targets. */
export function knobOutcomes(modelsDir: string, draws: KnobDraws, targetIndex: Int32Array, who: string): KnobOutcomes {
  const margins = readNpy(join(modelsDir, MODELS.marginsTest));
  const [nModels, nTest] = margins.shape;
  const maskOf = readNpy(join(modelsDir, MODELS.maskOf)).data as Int32Array;
  const bad = targetIndex.find((t) => t >= nTest);
  if (bad !== undefined) throw new KnobError(`${who}: target ${bad} is outside the ${nTest} test examples the models were scored on`);
  const { truth } = marginsPerMask(margins.data as Float32Array, nModels, nTest, maskOf, draws.count, targetIndex);
  return { draws, truth, seedsPerDraw: nModels / draws.count, nTest };
}

/** Centers each row of slopes [T, d] over the knobs (for a mixture). */
export function centerSlopes(slopes: Float64Array, T: number, d: number): void {
  for (let j = 0; j < T; j++) {
    let m = 0;
    for (let g = 0; g < d; g++) m += slopes[j * d + g] / d;
    for (let g = 0; g < d; g++) slopes[j * d + g] -= m;
  }
}

export interface KnobReport {
  method: string;
  predictions: Float64Array;
  truth: Float64Array;
  T: number;
  /** Held-out draws. */
  K: number;
  slopes: Float64Array;
  targetIndex: Int32Array;
  draws: KnobDraws;
  /** Store entry of the data set (for the targets' classes in slopesByClass). */
  dataDir: string;
  bootstrap: number;
  ci: number;
  rng: Rng;
  seedsPerDraw: number;
  /** Extra metrics and JSON fields of the kind. */
  metrics?: Metrics;
  extra?: Record<string, unknown>;
}

/** Mean slope of every knob over the targets of each class, and how many targets each knob raises or lowers. */
export function slopeSummary(slopes: Float64Array, T: number, names: string[], targetIndex: Int32Array, dataDir: string) {
  const d = names.length;
  const meta = JSON.parse(readFileSync(join(dataDir, DATASET.meta), 'utf8')) as DatasetMeta;
  const yTest = readNpy(join(dataDir, DATASET.yTest)).data as Int32Array;
  const byClass: Record<string, { targets: number; slopes: Record<string, number> }> = {};
  for (let j = 0; j < T; j++) {
    const c = yTest[targetIndex[j]];
    const name = meta.classNames?.[c] ?? `class ${c}`;
    const entry = (byClass[name] ??= { targets: 0, slopes: Object.fromEntries(names.map((n) => [n, 0])) });
    entry.targets++;
    for (let g = 0; g < d; g++) entry.slopes[names[g]] += slopes[j * d + g];
  }
  for (const entry of Object.values(byClass)) for (const n of names) entry.slopes[n] /= entry.targets;
  const raises = Object.fromEntries(names.map((n) => [n, { raises: 0, lowers: 0 }]));
  for (let j = 0; j < T; j++) {
    for (let g = 0; g < d; g++) {
      if (slopes[j * d + g] > 0) raises[names[g]].raises++;
      else if (slopes[j * d + g] < 0) raises[names[g]].lowers++;
    }
  }
  return { byClass, raises };
}

/** Scores predictions against truth and writes the knobs artifact into `outDir`; returns the metrics. */
export function writeKnobReport(outDir: string, r: KnobReport, log: (line: string) => void): Metrics {
  const { T, K, draws } = r;
  const names = draws.meta.names;
  const d = names.length;
  const per = ldsPerTarget(r.predictions, r.truth, T, K);
  if (T > 0 && per.undefinedTargets === T) {
    throw new KnobError(
      `${r.method}: every one of the ${T} targets has an undefined rank correlation (${per.constantPredictions} with constant predictions, ${per.constantTruth} with a constant outcome over the draws): there is no score to report`,
    );
  }
  if (per.undefinedTargets > 0) log(`${r.method}: ${per.undefinedTargets} of ${T} targets had a constant prediction or outcome: dropped from the mean`);
  const s = summarize(per.spearman.filter((v) => !Number.isNaN(v)), r.bootstrap, r.ci, r.rng);
  let pearsonSum = 0;
  let pearsonDefined = 0;
  for (let j = 0; j < T; j++) {
    const v = pearson(r.predictions.subarray(j * K, (j + 1) * K), r.truth.subarray(j * K, (j + 1) * K));
    if (!Number.isNaN(v)) (pearsonSum += v), pearsonDefined++;
  }
  if (draws.meta.mode === 'mixture') centerSlopes(r.slopes, T, d);
  const summary = slopeSummary(r.slopes, T, names, r.targetIndex, r.dataDir);

  writeNpy(join(outDir, KNOBS.predictions), Float32Array.from(r.predictions), [T, K]);
  writeNpy(join(outDir, KNOBS.truth), Float32Array.from(r.truth), [T, K]);
  writeNpy(join(outDir, KNOBS.perTarget), Float32Array.from(per.spearman), [T]); // NaN where undefined
  writeNpy(join(outDir, KNOBS.slopes), Float32Array.from(r.slopes), [T, d]);
  writeNpy(join(outDir, KNOBS.targetIndex), r.targetIndex, [T]);
  const metrics: Metrics = {
    spearman: s.mean,
    spearmanStd: s.std,
    spearmanLow: s.low,
    spearmanHigh: s.high,
    pearson: pearsonDefined > 0 ? pearsonSum / pearsonDefined : Number.NaN,
    targets: T,
    draws: K,
    knobs: d,
    seedsPerDraw: r.seedsPerDraw,
    undefinedTargets: per.undefinedTargets,
    ...r.metrics,
  };
  writeJsonAtomic(join(outDir, KNOBS.meta), {
    method: r.method,
    ...metrics,
    ci: [s.low, s.high],
    ciLevel: r.ci,
    knobNames: names,
    mode: draws.meta.mode,
    slopesCentered: draws.meta.mode === 'mixture',
    slopesByClass: summary.byClass,
    raisesLowers: summary.raises,
    ...r.extra,
  });
  log(`${r.method}: spearman ${s.mean.toFixed(4)} ± ${s.std.toFixed(4)} (${r.ci * 100}% CI ${s.low.toFixed(4)}..${s.high.toFixed(4)}) over ${T} targets, ${K} held-out draws, ${r.seedsPerDraw} seed(s) each`);
  log(`mean slope ∂output/∂θ per knob, by target class${draws.meta.mode === 'mixture' ? ' (centered over knobs: Σθ = 1)' : ''}:`);
  const width = Math.max(8, ...names.map((n) => n.length + 1));
  log(`  ${'class'.padEnd(10)}${names.map((n) => n.padStart(width)).join('')}`);
  for (const [c, e] of Object.entries(summary.byClass)) {
    log(`  ${`${c} (${e.targets})`.padEnd(10)}${names.map((n) => e.slopes[n].toFixed(3).padStart(width)).join('')}`);
  }
  return metrics;
}
