/**
 * `lds`: the linear datamodeling score of any attribution scores against models trained
 * on fresh α-subsets (TRAK paper, eq. 5).
 *
 *     ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i
 *     LDS_j    = spearman_k( ĝ_j(S_k), f̄(x_j; S_k) ),   f̄ = mean margin over the seeds trained on S_k
 *     LDS      = (1/T) Σ_j LDS_j
 *
 * Metrics: lds, ldsStd (std over targets), ldsLow/ldsHigh (percentile bootstrap of the
 * mean over targets), targets, subsets, seedsPerSubset (the ground truth's noise level:
 * report it beside every LDS), undefinedTargets (constant prediction or margin, counted 0).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from '../pipeline/registry.ts';
import { LDS, MASKS, MODELS, SCORES } from '../lib/artifacts.ts';
import { ldsPerTarget, marginsPerMask, subsetPredictions, summarize } from '../lib/evaluation/linear-datamodeling.ts';
import { readNpy, writeNpy } from '../lib/io/npy.ts';
import { Rng } from '../lib/random/rng.ts';
import { checkSameDataset, masksOf } from './inputs.ts';

export const ldsParams = z.strictObject({
  bootstrap: z.number().int().min(0).default(1000).describe('bootstrap resamples of the targets for the interval (ldsLow, ldsHigh); 0 turns it off'),
  ci: z.number().gt(0).lt(1).default(0.95).describe('coverage of the bootstrap interval'),
});
export type LdsParams = z.infer<typeof ldsParams>;

function expect2d(name: string, shape: number[]): [number, number] {
  if (shape.length !== 2) throw new Error(`lds: ${name} should be 2-d, got shape ${JSON.stringify(shape)}`);
  return [shape[0], shape[1]];
}

export const lds = defineStage<LdsParams>({
  name: 'lds',
  version: '1',
  description: 'Linear datamodeling score of attribution scores against models trained on fresh subsets',
  equation: 'LDS = mean_j spearman_k( Σ_{i∈S_k} τ(x_j)_i , f̄(x_j; θ(S_k)) )',
  params: ldsParams,
  inputs: {
    scores: { kinds: ['scores'], description: 'τ(x_j) for each target (any attribution method)' },
    models: { kinds: ['models'], description: 'a train stage on fresh α-subsets: the ground truth' },
  },
  output: 'lds',
  async run(ctx) {
    const { scores, models } = ctx.inputs;
    checkSameDataset(scores, 'scores', models, 'models');
    const masksArtifact = masksOf(models, 'lds');

    const tau = readNpy(join(scores.dir, SCORES.scores));
    const [nTargets, nTrain] = expect2d('scores.npy', tau.shape);
    const targetIndex = readNpy(join(scores.dir, SCORES.targetIndex)).data as Int32Array;
    if (targetIndex.length !== nTargets) throw new Error(`lds: target_index.npy has ${targetIndex.length} entries, scores.npy ${nTargets} rows`);

    const masks = readNpy(join(masksArtifact.dir, MASKS.masks));
    const [nMasks, nTrainMasks] = expect2d('masks.npy', masks.shape);
    if (nTrainMasks !== nTrain) throw new Error(`lds: the scores cover ${nTrain} train examples but the masks ${nTrainMasks}: not the same data set`);

    const margins = readNpy(join(models.dir, MODELS.marginsTest));
    const [nModels, nTest] = expect2d('margins_test.npy', margins.shape);
    const maskOf = readNpy(join(models.dir, MODELS.maskOf)).data as Int32Array;
    if (maskOf.length !== nModels) throw new Error(`lds: mask_of_model.npy has ${maskOf.length} entries for ${nModels} models`);
    const bad = targetIndex.findIndex((t) => t < 0 || t >= nTest);
    if (bad >= 0) throw new Error(`lds: target ${bad} is test example ${targetIndex[bad]}, but the models have margins for ${nTest} test examples`);

    // Ground truth f̄(x_j; S_k): margins averaged over the seeds trained on each mask.
    const { truth, seedsPerMask } = marginsPerMask(margins.data as Float32Array, nModels, nTest, maskOf, nMasks, targetIndex);
    const seedsMin = Math.min(...seedsPerMask);
    const seedsMax = Math.max(...seedsPerMask);
    if (seedsMin !== seedsMax) ctx.log(`lds: masks have between ${seedsMin} and ${seedsMax} seeds each`);
    const seedsPerSubset = nModels / nMasks;

    const predictions = subsetPredictions(tau.data as Float32Array, nTargets, nTrain, masks.data as Uint8Array, nMasks);
    const perTarget = ldsPerTarget(predictions, truth, nTargets, nMasks);
    const s = summarize(perTarget.lds, ctx.params.bootstrap, ctx.params.ci, Rng.from(ctx.seed, 'bootstrap'));
    if (perTarget.undefinedTargets > 0) ctx.log(`lds: ${perTarget.undefinedTargets} of ${nTargets} targets had a constant prediction or margin (counted as 0)`);

    writeNpy(join(ctx.outDir, LDS.perTarget), Float32Array.from(perTarget.lds), [nTargets]);
    const meta = {
      lds: s.mean,
      ldsStd: s.std,
      ci: [s.low, s.high],
      ciLevel: ctx.params.ci,
      bootstrap: ctx.params.bootstrap,
      targets: nTargets,
      subsets: nMasks,
      seedsPerSubset,
      undefinedTargets: perTarget.undefinedTargets,
      method: scores.stageKind,
    };
    writeFileSync(join(ctx.outDir, LDS.meta), JSON.stringify(meta, null, 2) + '\n');
    ctx.log(`lds ${s.mean.toFixed(4)} ± ${s.std.toFixed(4)} (${ctx.params.ci * 100}% CI ${s.low.toFixed(4)}..${s.high.toFixed(4)}) over ${nTargets} targets, ${nMasks} subsets, ${seedsPerSubset} seed(s) each`);
    return {
      metrics: {
        lds: s.mean,
        ldsStd: s.std,
        ldsLow: s.low,
        ldsHigh: s.high,
        targets: nTargets,
        subsets: nMasks,
        seedsPerSubset,
        undefinedTargets: perTarget.undefinedTargets,
      },
    };
  },
});
