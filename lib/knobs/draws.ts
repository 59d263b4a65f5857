/**
 * Knob draws as `subsets` writes them (lib/artifacts.ts MASKS) and as knobmodel and
 * knob-predict read them back. Draw k:
 *
 *   θ_k ~ prior                      Rng(stream k, 'theta')
 *   S_k ~ q_{θ_k}                    Rng(stream k, 'mask')     (lib/knobs/sampler.ts)
 *
 *   masks.npy      uint8 [count, nTrain]   1_{S_k}
 *   theta.npy      float32 [count, knobs]  θ_k
 *   inclusion.npy  float32 [count, knobs]  π_g(θ_k) of group g's examples
 *   group_of.npy   int32 [nTrain]          group of each example (−1: none, π = rest)
 *   masks.json     {count, nTrain, alpha (mean |S|/n), mode: 'knobs', knobs: {...}}
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET, MASKS, type DatasetMeta } from '../artifacts.ts';
import { writeJsonAtomic } from '../io/json.ts';
import { NpyWriter, readNpy, writeNpy } from '../io/npy.ts';
import type { Rng } from '../random/rng.ts';
import { KnobError, resolveGroups } from './groups.ts';
import { checkPrior, sampleTheta } from './priors.ts';
import { drawKnobMask, exampleInclusion, groupInclusion } from './sampler.ts';
import type { KnobsSpec } from './schema.ts';

/** The `knobs` entry of masks.json. */
export interface KnobsMeta {
  names: string[];
  sizes: number[];
  by: KnobsSpec['groups']['by'];
  mode: KnobsSpec['mode'];
  sampling: KnobsSpec['sampling'];
  total?: number;
  rest: number;
  prior: KnobsSpec['prior'];
  /** Train examples in no group. */
  ungrouped: number;
}

export interface KnobSubsetsResult {
  meanSize: number;
  minSize: number;
  maxSize: number;
  meta: KnobsMeta;
}

/** Draws `count` knob settings and their masks into `outDir`. `stream(k)` is draw k's Rng. */
export function writeKnobSubsets(outDir: string, dataDir: string, count: number, spec: KnobsSpec, stream: (k: number) => Rng): KnobSubsetsResult {
  const dataMeta = JSON.parse(readFileSync(join(dataDir, DATASET.meta), 'utf8')) as DatasetMeta;
  const n = dataMeta.nTrain;
  const groups = resolveGroups(spec.groups, dataDir);
  const d = groups.names.length;
  checkPrior(spec.prior, d);
  const ungrouped = groups.groupOf.reduce((s, g) => s + (g < 0 ? 1 : 0), 0);
  const theta = new Float32Array(count * d);
  const inclusion = new Float32Array(count * d);
  const writer = new NpyWriter(join(outDir, MASKS.masks), 'uint8', [n]);
  let total = 0;
  let minSize = n;
  let maxSize = 0;
  try {
    for (let k = 0; k < count; k++) {
      const rng = stream(k);
      const t = sampleTheta(spec.prior, d, rng.split('theta'));
      const mask = drawKnobMask(spec, groups, t, rng.split('mask'));
      let size = 0;
      for (let i = 0; i < n; i++) size += mask[i];
      if (size === 0) throw new KnobError(`knobs: draw ${k} (θ = ${Array.from(t, (v) => v.toFixed(3)).join(', ')}) is an empty subset: raise the prior's low bound or rest`);
      total += size;
      minSize = Math.min(minSize, size);
      maxSize = Math.max(maxSize, size);
      writer.append(mask);
      theta.set(t, k * d);
      inclusion.set(groupInclusion(spec, groups, t), k * d);
    }
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
  writeNpy(join(outDir, MASKS.theta), theta, [count, d]);
  writeNpy(join(outDir, MASKS.inclusion), inclusion, [count, d]);
  writeNpy(join(outDir, MASKS.groupOf), groups.groupOf, [n]);
  const meta: KnobsMeta = {
    names: groups.names,
    sizes: groups.sizes,
    by: spec.groups.by,
    mode: spec.mode,
    sampling: spec.sampling,
    total: spec.total,
    rest: spec.rest,
    prior: spec.prior,
    ungrouped,
  };
  const meanSize = total / count;
  writeJsonAtomic(join(outDir, MASKS.meta), { count, nTrain: n, alpha: meanSize / n, mode: 'knobs', knobs: meta, minSize, maxSize });
  return { meanSize, minSize, maxSize, meta };
}

/** Knob draws read back from a masks artifact. */
export interface KnobDraws {
  count: number;
  nTrain: number;
  /** Number of knobs d. */
  d: number;
  /** float32 [count, d]. */
  theta: Float32Array;
  /** float32 [count, d]: π_g(θ_k). */
  inclusion: Float32Array;
  /** int32 [nTrain]. */
  groupOf: Int32Array;
  meta: KnobsMeta;
}

/**
 * The knob draws of the masks artifact in store entry `dir` (`label` names it in
 * errors); a clear error when it is a plain subsets stage.
 */
export function readKnobDraws(dir: string, label: string, who: string): KnobDraws {
  const path = (name: string) => join(dir, name);
  if (!existsSync(path(MASKS.theta)) || !existsSync(path(MASKS.inclusion))) {
    throw new KnobError(`${who}: the masks (${label}) have no knob settings (theta.npy): draw them with a subsets stage that has knobs:`);
  }
  const json = JSON.parse(readFileSync(path(MASKS.meta), 'utf8')) as { count: number; nTrain: number; knobs: KnobsMeta };
  const theta = readNpy(path(MASKS.theta));
  const [count, d] = theta.shape;
  return {
    count,
    nTrain: json.nTrain,
    d,
    theta: theta.data as Float32Array,
    inclusion: readNpy(path(MASKS.inclusion)).data as Float32Array,
    groupOf: readNpy(path(MASKS.groupOf)).data as Int32Array,
    meta: json.knobs,
  };
}

/** π_i(θ_k) for every train example of draw k. */
export function drawInclusion(draws: KnobDraws, k: number): Float64Array {
  return exampleInclusion(draws.groupOf, draws.inclusion.subarray(k * draws.d, (k + 1) * draws.d), draws.meta.rest);
}

/**
 * Σ_i π_i(θ_k) τ_{j,i} for every target j and draw k, as [nTargets, count] float64:
 * per target the group sums G_{j,g} = Σ_{i∈g} τ_{j,i} and R_j (no group), then
 * Σ_g π_g(θ_k) G_{j,g} + rest·R_j.
 */
export function knobPredictions(draws: KnobDraws, scores: ArrayLike<number>, nTargets: number): { predictions: Float64Array; groupSums: Float64Array; restSums: Float64Array } {
  const { d, count, nTrain, groupOf } = draws;
  if (scores.length !== nTargets * nTrain) throw new KnobError(`knob predictions: scores have ${scores.length} values, not ${nTargets} × ${nTrain}`);
  const groupSums = new Float64Array(nTargets * d);
  const restSums = new Float64Array(nTargets);
  for (let j = 0; j < nTargets; j++) {
    for (let i = 0; i < nTrain; i++) {
      const g = groupOf[i];
      const v = scores[j * nTrain + i];
      if (g >= 0) groupSums[j * d + g] += v;
      else restSums[j] += v;
    }
  }
  const predictions = new Float64Array(nTargets * count);
  for (let j = 0; j < nTargets; j++) {
    for (let k = 0; k < count; k++) {
      let s = draws.meta.rest * restSums[j];
      for (let g = 0; g < d; g++) s += draws.inclusion[k * d + g] * groupSums[j * d + g];
      predictions[j * count + k] = s;
    }
  }
  return { predictions, groupSums, restSums };
}
