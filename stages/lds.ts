/**
 * `lds`: the linear datamodeling score of any attribution scores against models trained
 * on fresh α-subsets (TRAK paper, eq. 5).
 *
 *     ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i
 *     LDS_j    = spearman_k( ĝ_j(S_k), f̄(x_j; S_k) ),   f̄ = mean margin over the seeds trained on S_k
 *     LDS      = mean of LDS_j over the targets where it is defined
 *
 * Undefined targets (constant prediction or margin over the subsets: no ranking) are
 * DROPPED from the mean and counted (undefinedTargets), as dattri does; if every target
 * is undefined the stage fails (there is no LDS to report).
 *
 * Interval: a percentile bootstrap; by default two-way (`resample: targets-and-subsets`,
 * each resample redraws the targets and the subsets, lib/evaluation/linear-datamodeling.ts),
 * `resample: targets` treats the subsets as fixed (narrower; the old interval).
 * predictions.npy and truth.npy keep ĝ and f̄ so that two lds entries on the same ground
 * truth can be compared pairwise (`attrib compare`, the report: A − B = d [lo, hi]).
 *
 * When the scores come through a `select` stage, the held-out ground truth it chose on
 * must not share subsets with this stage's ground truth (lib/evaluation/held-out.ts).
 *
 * Metrics: lds, ldsStd (std over defined targets), ldsLow/ldsHigh, targets,
 * undefinedTargets, subsets, seedsPerSubset (the ground truth's noise level: report it
 * beside every LDS).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from '../pipeline/registry.ts';
import { LDS } from '../lib/artifacts.ts';
import { checkTrainSize, readGroundTruth, readScores, subsetPredictionsOfNpy } from '../lib/evaluation/ground-truth.ts';
import { checkHeldOut } from '../lib/evaluation/held-out.ts';
import { checkSameDataset, masksOf, selectionsUpstream } from './inputs.ts';
import { ldsInterval, ldsPerTarget, RESAMPLE } from '../lib/evaluation/linear-datamodeling.ts';
import { writeNpy } from '../lib/io/npy.ts';
import { Rng } from '../lib/random/rng.ts';

export const ldsParams = z.strictObject({
  bootstrap: z.number().int().min(0).default(1000).describe('bootstrap resamples for the interval (ldsLow, ldsHigh); 0 turns it off'),
  ci: z.number().gt(0).lt(1).default(0.95).describe('coverage of the bootstrap interval'),
  resample: z
    .enum(RESAMPLE)
    .default('targets-and-subsets')
    .describe('what the bootstrap redraws: targets-and-subsets (two-way, the default) or targets only (treats the subsets as fixed)'),
  target: z
    .enum(['margin', 'loss'])
    .optional()
    .describe('what the ground truth measures: margin f (default, TRAK) or loss, the negative cross-entropy −ℓ (dattri\'s LDS)'),
});
export type LdsParams = z.infer<typeof ldsParams>;

export const lds = defineStage<LdsParams>({
  name: 'lds',
  version: '2',
  description: 'Linear datamodeling score of attribution scores against models trained on fresh subsets',
  equation: 'LDS = mean_j spearman_k( Σ_{i∈S_k} τ(x_j)_i , f̄(x_j; θ(S_k)) )  (undefined targets dropped)',
  params: ldsParams,
  inputs: {
    scores: { kinds: ['scores'], description: 'τ(x_j) for each target (any attribution method)' },
    models: { kinds: ['models'], description: 'a train stage on fresh α-subsets: the ground truth' },
  },
  output: 'lds',
  async run(ctx) {
    const { scores, models } = ctx.inputs;
    checkSameDataset(scores, 'scores', models, 'models');
    for (const selection of selectionsUpstream(scores)) checkHeldOut(masksOf(selection.inputs.models!, 'lds'), masksOf(models, 'lds'), `lds (scores chosen by select ${selection.hash.slice(0, 12)})`);
    const read = readScores(scores.dir, 'lds');
    const gt = readGroundTruth(models.dir, masksOf(models, 'lds').dir, 'lds', ctx.params.target);
    checkTrainSize(read, gt, 'lds');
    const { nTargets } = read;
    const nMasks = gt.nMasks;
    if (gt.seedsMin !== gt.seedsMax) ctx.log(`lds: masks have between ${gt.seedsMin} and ${gt.seedsMax} seeds each`);

    const truth = gt.truthFor(read.targetIndex);
    const predictions = subsetPredictionsOfNpy(read, gt.masks, nMasks); // scores.npy in row blocks
    const perTarget = ldsPerTarget(predictions, truth, nTargets, nMasks);
    if (perTarget.undefinedTargets === nTargets) {
      throw new Error(
        `lds: every one of the ${nTargets} targets has an undefined rank correlation (${perTarget.constantPredictions} with constant predictions, e.g. all-zero scores; ${perTarget.constantTruth} with a constant ground-truth margin): there is no LDS to report`,
      );
    }
    const { params } = ctx;
    const s = ldsInterval(predictions, truth, nTargets, nMasks, { resamples: params.bootstrap, ci: params.ci, resample: params.resample, rng: Rng.from(ctx.seed, 'bootstrap') });
    if (perTarget.undefinedTargets > 0) {
      ctx.log(`lds: ${perTarget.undefinedTargets} of ${nTargets} targets had a constant prediction (${perTarget.constantPredictions}) or margin (${perTarget.constantTruth}): dropped from the mean`);
    }

    writeNpy(join(ctx.outDir, LDS.perTarget), Float32Array.from(perTarget.spearman), [nTargets]);
    writeNpy(join(ctx.outDir, LDS.predictions), predictions, [nTargets, nMasks]);
    writeNpy(join(ctx.outDir, LDS.truth), truth, [nTargets, nMasks]);
    writeNpy(join(ctx.outDir, LDS.targetIndex), read.targetIndex, [nTargets]);
    const meta = {
      lds: s.mean,
      ldsStd: s.std,
      ci: [s.low, s.high],
      ciLevel: params.ci,
      bootstrap: params.bootstrap,
      resample: params.resample,
      target: params.target ?? 'margin',
      targets: nTargets,
      subsets: nMasks,
      seedsPerSubset: gt.seedsPerSubset,
      undefinedTargets: perTarget.undefinedTargets,
      undefinedTargetsHandling: 'dropped from the mean',
      method: scores.stageKind,
      groundTruth: models.hash,
    };
    writeFileSync(join(ctx.outDir, LDS.meta), JSON.stringify(meta, null, 2) + '\n');
    ctx.log(
      `lds ${s.mean.toFixed(4)} ± ${s.std.toFixed(4)} (${params.ci * 100}% CI ${s.low.toFixed(4)}..${s.high.toFixed(4)}, resampling ${params.resample}) over ${s.defined} of ${nTargets} targets, ${nMasks} subsets, ${gt.seedsPerSubset} seed(s) each`,
    );
    return {
      metrics: {
        lds: s.mean,
        ldsStd: s.std,
        ldsLow: s.low,
        ldsHigh: s.high,
        targets: nTargets,
        subsets: nMasks,
        seedsPerSubset: gt.seedsPerSubset,
        undefinedTargets: perTarget.undefinedTargets,
      },
    };
  },
});
