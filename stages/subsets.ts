/**
 * Stage kind `subsets` (input `data`): which train examples each model sees.
 *
 *   params: {count, alpha, mode?: exact | bernoulli, seed?}
 *   exact:     S_k = a uniformly random subset of exactly ⌊α·n⌋ examples
 *   bernoulli: i ∈ S_k independently with probability α
 *
 * Output masks.npy, uint8 [count, n] (1 where example i is in S_k), and masks.json.
 * α = 1 gives the full set in every row (ensembles of full-data models). Mask k draws
 * from its own stream: Rng(seed, 'mask', k), with `seed` when given (then a larger count
 * keeps the first masks), else the stage's derived seed.
 *
 * knobs (optional): a parametric distribution q_θ instead: each draw samples a knob
 * setting θ_k from a prior over named groups of examples, then S_k ~ q_{θ_k}; θ, the
 * inclusion probabilities π_g(θ_k) and the groups are written beside the masks
 * (lib/knobs: schema.ts for the spec, sampler.ts for q_θ and π). alpha and mode do
 * not apply then.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, type Metrics } from '../pipeline/registry.ts';
import { DATASET, MASKS, type DatasetMeta } from '../lib/artifacts.ts';
import { initBackend } from '../lib/backend.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { NpyWriter } from '../lib/io/npy.ts';
import { Rng } from '../lib/random/rng.ts';
import { readFileSync } from 'node:fs';
import { knobsSpec } from '../lib/knobs/schema.ts';
import { writeKnobSubsets } from '../lib/knobs/draws.ts';

export const subsetsParams = z.strictObject({
  count: z.number().int().positive().describe('number of subsets (rows)'),
  alpha: z.number().gt(0).lte(1).default(0.5).describe('fraction of the train set in each subset'),
  mode: z.enum(['exact', 'bernoulli']).default('exact').describe('exact: subsets of exactly ⌊α·n⌋ examples; bernoulli: each example in with probability α'),
  seed: z.number().int().optional().describe('mask seed (default: derived from the experiment seed)'),
  knobs: knobsSpec.optional().describe('parametric subsets: θ ~ prior over named groups, then a mask from θ (lib/knobs)'),
});

export type SubsetsParams = z.infer<typeof subsetsParams>;

/** Mask k of n examples: uint8 [n]. */
export function drawMask(rng: Rng, n: number, alpha: number, mode: 'exact' | 'bernoulli'): Uint8Array {
  const mask = new Uint8Array(n);
  if (alpha >= 1) return mask.fill(1);
  if (mode === 'bernoulli') {
    for (let i = 0; i < n; i++) mask[i] = rng.uniform() < alpha ? 1 : 0;
    return mask;
  }
  const size = Math.floor(alpha * n);
  // Partial Fisher-Yates: the first `size` slots of a random permutation.
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(n - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    mask[perm[i]] = 1;
  }
  return mask;
}

export const subsets = defineStage<SubsetsParams>({
  name: 'subsets',
  version: '1',
  description: 'random training subsets as 0/1 masks (exact size ⌊α·n⌋ or bernoulli(α)), seeded',
  equation: 'mask[k, i] = 1 if train example i ∈ S_k;  |S_k| = ⌊α·n⌋ (exact) or ~ Binomial(n, α)',
  params: subsetsParams,
  inputs: { data: { kinds: ['dataset'], description: 'the data set whose train split is subsampled' } },
  output: 'masks',
  async run(ctx) {
    const backend = await initBackend(ctx.backend);
    const { count, alpha, mode, seed, knobs } = ctx.params;
    const meta = JSON.parse(readFileSync(join(ctx.inputs.data.dir, DATASET.meta), 'utf8')) as DatasetMeta;
    const n = meta.nTrain;
    if (knobs) {
      const stream = (k: number) => (seed !== undefined ? Rng.from('subsets', seed, 'knobs', k) : Rng.from(ctx.seed, 'knobs', k));
      const r = writeKnobSubsets(ctx.outDir, ctx.inputs.data.dir, count, knobs, stream);
      ctx.log(`subsets: ${count} knob draws over ${r.meta.names.length} groups by ${r.meta.by} (${r.meta.names.join(', ')}), ${r.meta.mode}, sizes ${r.minSize}..${r.maxSize}`);
      const metrics: Metrics = { count, nTrain: n, alpha: r.meanSize / n, meanSize: r.meanSize, knobs: r.meta.names.length };
      return {
        metrics,
        info: { backend: backend.name, backendReason: backend.reason },
      };
    }
    if (mode === 'exact' && Math.floor(alpha * n) < 1) throw new Error(`subsets: alpha ${alpha} of ${n} train examples is an empty subset`);
    const writer = new NpyWriter(join(ctx.outDir, MASKS.masks), 'uint8', [n]);
    let total = 0;
    let smallest = n;
    let largest = 0;
    try {
      for (let k = 0; k < count; k++) {
        const rng = seed !== undefined ? Rng.from('subsets', seed, 'mask', k) : Rng.from(ctx.seed, 'mask', k);
        const mask = drawMask(rng, n, alpha, mode);
        let size = 0;
        for (let i = 0; i < n; i++) size += mask[i];
        total += size;
        smallest = Math.min(smallest, size);
        largest = Math.max(largest, size);
        writer.append(mask);
      }
      writer.close();
    } catch (e) {
      writer.abort();
      throw e;
    }
    writeJsonAtomic(join(ctx.outDir, MASKS.meta), { count, nTrain: n, alpha, mode, size: mode === 'exact' ? Math.floor(alpha * n) : undefined, minSize: smallest, maxSize: largest });
    ctx.log(`subsets: ${count} masks of ${n} examples, ${mode} α = ${alpha} (sizes ${smallest}..${largest})`);
    return {
      metrics: { count, nTrain: n, alpha, meanSize: total / count },
      info: { backend: backend.name, backendReason: backend.reason },
    };
  },
});
