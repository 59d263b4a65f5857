/**
 * `knob-predict`: what a linear attribution τ (TRAK, datamodels, any SCORES artifact)
 * predicts at a knob setting θ, scored on held-out knob draws like `knobmodel`, so the
 * cheap attribution-induced prediction and the directly learned knob model compare
 * side by side on the same draws.
 *
 *   params: {bootstrap?, ci?}
 *   inputs: scores, models (a train stage on `subsets` with knobs: the held-out draws),
 *           knobmodel? (a knobmodel artifact whose slopes to compare with)
 *
 *   ŷ_j(θ)   = Σ_i π_i(θ) τ(x_j)_i = Σ_g π_g(θ) G_{j,g} + rest · R_j
 *              G_{j,g} = Σ_{i∈g} τ(x_j)_i,  R_j = Σ_{i in no group} τ(x_j)_i
 *   spearman = mean_j spearman_k( ŷ_j(θ_k), ȳ_j(θ_k) )
 *   slopes   ∂ŷ_j/∂θ_g = G_{j,g} (rates, exact for bernoulli) or total · G_{j,g} / n_g
 *            (mixture, centered over knobs), as knobmodel's linear slopes
 *
 * π_i(θ) = E[1{i ∈ S}] under q_θ, so ŷ_j(θ) = E_{S~q_θ}[Σ_{i∈S} τ(x_j)_i]: the expected
 * linear-datamodel prediction over the subsets θ induces. spearmanRealized scores the
 * prediction on the realized masks instead, Σ_{i∈S_k} τ(x_j)_i (the LDS of the scores
 * on knob subsets), which knows more than θ. Extra file: group_scores.npy [targets,
 * knobs] = G (the attribution mass of each group, e.g. each behavior policy's data).
 * With a knobmodel input: slopeAgreement (share of (target, knob) pairs whose slopes have
 * the same sign) and slopeCorrelation (mean over targets of the Pearson correlation of
 * the two slope vectors across knobs), over the targets both cover.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, type Metrics } from '../pipeline/registry.ts';
import { KNOBS, MASKS } from '../lib/artifacts.ts';
import { forEachScoresBlock, readScores } from '../lib/evaluation/ground-truth.ts';
import { ldsPerTarget, meanDefined, subsetPredictions } from '../lib/evaluation/linear-datamodeling.ts';
import { readNpy, writeNpy } from '../lib/io/npy.ts';
import { pearson } from '../lib/linalg/index.ts';
import { knobPredictions } from '../lib/knobs/draws.ts';
import { centerSlopes, writeKnobReport } from '../lib/knobs/evaluate.ts';
import { KnobError } from '../lib/knobs/groups.ts';
import { Rng } from '../lib/random/rng.ts';
import { checkSameDataset, findDataset, knobOutcomesOf, masksOf } from './inputs.ts';

export const knobPredictParams = z.strictObject({
  bootstrap: z.number().int().min(0).default(1000).describe('bootstrap resamples of the targets for the interval of the mean'),
  ci: z.number().gt(0).lt(1).default(0.95).describe('coverage of the bootstrap interval'),
});
export type KnobPredictParams = z.infer<typeof knobPredictParams>;

const GROUP_SCORES = 'group_scores.npy';

export const knobPredict = defineStage<KnobPredictParams>({
  name: 'knob-predict',
  // 2: undefined targets are dropped from the means (were counted as 0)
  version: '2',
  description: 'knob-level predictions Σ_i π_i(θ) τ_i of any attribution scores, scored on held-out knob draws (side by side with knobmodel)',
  equation: 'ŷ_j(θ) = Σ_i π_i(θ) τ(x_j)_i;  spearman = mean_j spearman_k(ŷ_j(θ_k), ȳ_j(θ_k))',
  params: knobPredictParams,
  inputs: {
    scores: { kinds: ['scores'], description: 'τ(x_j) for each target (any attribution method)' },
    models: { kinds: ['models'], description: 'a train stage on knob subsets: the held-out draws θ_k and outputs' },
    knobmodel: { kinds: ['knobs'], optional: true, description: 'a knobmodel whose slopes ∂ŷ/∂θ to compare with' },
  },
  output: 'knobs',
  async run(ctx) {
    const { scores, models, knobmodel } = ctx.inputs;
    checkSameDataset(scores, 'scores', models, 'models');
    const read = readScores(scores.dir, 'knob-predict');
    const { nTargets: T, nTrain: n, targetIndex } = read;
    const outcomes = knobOutcomesOf(models, targetIndex, 'knob-predict');
    const { draws } = outcomes;
    if (draws.nTrain !== n) throw new KnobError(`knob-predict: the scores cover ${n} train examples but the knob masks ${draws.nTrain}: not the same data set`);
    const K = draws.count;
    const d = draws.d;
    const masks = readNpy(join(masksOf(models, 'knob-predict', 'train it on a subsets stage with knobs').dir, MASKS.masks)).data as Uint8Array;
    // τ in row blocks (every quantity here is per target): never the whole matrix in memory.
    const predictions = new Float64Array(T * K);
    const groupSums = new Float64Array(T * d);
    const realizedPredictions = new Float64Array(T * K);
    forEachScoresBlock(read, (start, end, block) => {
      const part = knobPredictions(draws, block, end - start);
      predictions.set(part.predictions, start * K);
      groupSums.set(part.groupSums, start * d);
      realizedPredictions.set(subsetPredictions(block, end - start, n, masks, K), start * K);
    });
    const realized = ldsPerTarget(realizedPredictions, outcomes.truth, T, K);
    const spearmanRealized = meanDefined(realized.spearman).mean; // undefined targets dropped, as lds

    const slopes = new Float64Array(T * d);
    const { mode, total, sizes } = draws.meta;
    for (let j = 0; j < T; j++) for (let g = 0; g < d; g++) slopes[j * d + g] = mode === 'mixture' ? (total! * groupSums[j * d + g]) / sizes[g] : groupSums[j * d + g];
    // Centered before comparing signs with knobmodel's (writeKnobReport centers a mixture's slopes too; it is idempotent).
    if (mode === 'mixture') centerSlopes(slopes, T, d);

    const extraMetrics: Metrics = { spearmanRealized };
    const extra: Record<string, unknown> = { scoresMethod: scores.stageKind };
    if (knobmodel) {
      const cmp = compareSlopes(slopes, targetIndex, d, knobmodel.dir);
      extraMetrics.slopeAgreement = cmp.agreement;
      extraMetrics.slopeCorrelation = cmp.correlation;
      extra.slopeComparison = { targets: cmp.targets, with: knobmodel.hash };
      ctx.log(`slopes vs knobmodel over ${cmp.targets} targets: same sign ${(100 * cmp.agreement).toFixed(1)}% of (target, knob) pairs, mean correlation across knobs ${cmp.correlation.toFixed(3)}`);
    }
    writeNpy(join(ctx.outDir, GROUP_SCORES), Float32Array.from(groupSums), [T, d]);
    const metrics = writeKnobReport(
      ctx.outDir,
      {
        method: `knob-predict(${scores.stageKind})`,
        predictions,
        truth: outcomes.truth,
        T,
        K,
        slopes,
        targetIndex,
        draws,
        dataDir: findDataset(models).dir,
        bootstrap: ctx.params.bootstrap,
        ci: ctx.params.ci,
        rng: Rng.from(ctx.seed, 'bootstrap'),
        seedsPerDraw: outcomes.seedsPerDraw,
        metrics: extraMetrics,
        extra,
      },
      ctx.log,
    );
    ctx.log(`knob-predict: realized-mask predictions Σ_{i∈S_k} τ_i score ${spearmanRealized.toFixed(4)} on the same draws`);
    return { metrics };
  },
});

/** Sign agreement and mean across-knob correlation of two slope matrices, over shared targets. */
function compareSlopes(slopes: Float64Array, targetIndex: Int32Array, d: number, knobDir: string) {
  const other = readNpy(join(knobDir, KNOBS.slopes));
  if (other.shape[1] !== d) throw new KnobError(`knob-predict: the knobmodel has ${other.shape[1]} knobs, the masks ${d}`);
  const otherTargets = readNpy(join(knobDir, KNOBS.targetIndex)).data as Int32Array;
  const row = new Map(Array.from(otherTargets, (t, r) => [t, r]));
  let same = 0;
  let pairs = 0;
  let corr = 0;
  let targets = 0;
  for (let j = 0; j < targetIndex.length; j++) {
    const r = row.get(targetIndex[j]);
    if (r === undefined) continue;
    const a = slopes.subarray(j * d, (j + 1) * d);
    const b = other.data.subarray(r * d, (r + 1) * d);
    for (let g = 0; g < d; g++) {
      if (a[g] !== 0 && b[g] !== 0) {
        pairs++;
        if (Math.sign(a[g]) === Math.sign(b[g])) same++;
      }
    }
    const c = d > 1 ? pearson(a, b) : Number.NaN;
    if (!Number.isNaN(c)) corr += c;
    targets++;
  }
  if (targets === 0) throw new KnobError('knob-predict: the knobmodel input covers none of the scores\' targets');
  return { agreement: pairs > 0 ? same / pairs : Number.NaN, correlation: corr / targets, targets };
}
