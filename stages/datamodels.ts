/**
 * `datamodels`: for each target x_j, a sparse linear model of its margin as a function
 * of which train examples were in the training set (Ilyas et al., ICML 2022, eq. 2):
 *
 *     min_{w_j, b_j}  (1 / 2K) Σ_k ( f̄(x_j; S_k) − b_j − 1_{S_k}ᵀ w_j )² + λ_j ‖w_j‖₁
 *
 * over the K masks S_k of a train stage (f̄ = margin averaged over the seeds trained on
 * S_k). The intercept is not penalized (masks and margins are centered). λ_j is chosen
 * along a log-spaced path from λ_max,j by the mean squared error on a held-out fraction
 * of the masks (the same masks for every target), then the model is refit on all masks
 * at that λ_j (see evaluation/lasso.ts for the solver: FISTA in tfjs matMuls, vectorized
 * over a block of targets, warm-started along the path). Scores: τ(x_j)_i = w_{j,i}.
 *
 * `models: N` regresses on the first N models of the train stage only (models are
 * ordered mask by mask, so on the masks of those models): one train stage of the
 * largest N serves every smaller N through the cache (the masks of a subsets stage do
 * not depend on its count, so its first masks are an α-subset sample of their own).
 *
 * `screening: true` leaves features out of each solve by the strong rule and checks KKT
 * after (lib/evaluation/lasso.ts): the same solution, less work per FISTA iteration.
 *
 * Work units: blocks of targets. Extra files beside the SCORES layout: intercept.npy,
 * lambda.npy (chosen λ_j), lambda_max.npy, held_out_mse.npy, held_out_mse_null.npy.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Artifact, StageContext } from '../pipeline/registry.ts';
import { defineStage } from '../pipeline/registry.ts';
import { MASKS, MODELS } from '../lib/artifacts.ts';
import { resolveTargets, targetsParams } from '../lib/attribution/featurize.ts';
import { ScoresWriter } from '../lib/attribution/scores.ts';
import { initBackend } from '../lib/backend.ts';
import { marginsPerMask } from '../lib/evaluation/linear-datamodeling.ts';
import { lassoBlock } from '../lib/evaluation/lasso.ts';
import { readNpy, readNpyHeader, writeNpy } from '../lib/io/npy.ts';
import { Rng } from '../lib/random/rng.ts';
import { masksOf } from './inputs.ts';

export const datamodelsParams = z.strictObject({
  targets: targetsParams.describe('which test examples get a datamodel: {split: test, count?} (the first count, default all) or {indices}'),
  models: z.number().int().positive().optional().describe('regress on the first N models of the models input (default: all of them)'),
  heldOut: z.number().gt(0).lt(1).default(0.1).describe('fraction of the masks held out to choose λ per target'),
  path: z.number().int().min(2).default(20).describe('number of λ values on the path, log-spaced from λ_max down to λ_max · lambdaMinRatio'),
  lambdaMinRatio: z.number().gt(0).lt(1).default(0.01).describe('smallest λ on the path, relative to λ_max'),
  patience: z.number().int().min(1).default(3).describe('a target leaves the path once its held-out error has not improved for this many λ'),
  refit: z.boolean().default(true).describe('refit on all masks at the chosen λ (otherwise keep the fit without the held-out masks)'),
  maxIter: z.number().int().positive().default(500).describe('FISTA iteration cap per λ'),
  tol: z.number().positive().default(1e-4).describe('FISTA relative-change tolerance'),
  blockSize: z.number().int().positive().default(50).describe('targets per work unit'),
  screening: z.boolean().optional().describe('strong-rule screening along the path, KKT-checked: the same solution, each iteration on the kept features only (default: off)'),
});
export type DatamodelsParams = z.infer<typeof datamodelsParams>;

/** Files of one unit and the extra files of the combined artifact. */
const UNIT = {
  weights: 'weights.npy',
  intercept: 'intercept.npy',
  lambda: 'lambda.npy',
  lambdaMax: 'lambda_max.npy',
  heldOutMse: 'held_out_mse.npy',
  heldOutMseNull: 'held_out_mse_null.npy',
  nonzeros: 'nonzeros.npy',
} as const;
const PER_TARGET = ['intercept', 'lambda', 'lambdaMax', 'heldOutMse', 'heldOutMseNull'] as const;

/**
 * The models the regression uses: the first `models` (default all) of the train stage,
 * and the masks they were trained on (0..masks−1, since models are ordered by mask).
 */
function modelsUsed(params: DatamodelsParams, models: Artifact): { models: number; masks: number } {
  const available = readNpyHeader(join(models.dir, MODELS.marginsTest)).shape[0];
  const N = params.models ?? available;
  if (N > available) throw new Error(`datamodels: models: ${N}, but the models input (${models.stageKind} ${models.hash.slice(0, 12)}) holds ${available}`);
  const maskOf = readNpy(join(models.dir, MODELS.maskOf)).data as Int32Array;
  let masks = 0;
  for (let m = 0; m < N; m++) masks = Math.max(masks, maskOf[m] + 1);
  return { models: N, masks };
}

function testCount(models: Artifact): number {
  return readNpyHeader(join(models.dir, MODELS.marginsTest)).shape[1];
}

function targetIndices(ctx: StageContext<DatamodelsParams>): Int32Array {
  return resolveTargets(ctx.params.targets, testCount(ctx.inputs.models), 'datamodels');
}

function blockRange(index: number, blockSize: number, nTargets: number): [number, number] {
  return [index * blockSize, Math.min(nTargets, (index + 1) * blockSize)];
}

export const datamodels = defineStage<DatamodelsParams>({
  name: 'datamodels',
  version: '1',
  description: 'Per-target L1-regularized linear regression of the margin on the training masks (datamodels)',
  equation: 'w_j = argmin (1/2K) Σ_k (f̄(x_j; S_k) − b_j − 1_{S_k}ᵀ w)² + λ_j ‖w‖₁,  λ_j by held-out MSE;  τ(x_j) = w_j',
  params: datamodelsParams,
  inputs: {
    models: { kinds: ['models'], description: 'a train stage on many α-subsets (its masks are the regressors)' },
  },
  output: 'scores',

  units(ctx) {
    modelsUsed(ctx.params, ctx.inputs.models); // a count beyond the models input fails here, before any unit
    return Math.ceil(targetIndices(ctx).length / ctx.params.blockSize);
  },

  async runUnit(ctx) {
    await initBackend(ctx.backend);
    const p = ctx.params;
    const models = ctx.inputs.models;
    const targets = targetIndices(ctx);
    const [start, end] = blockRange(ctx.index, p.blockSize, targets.length);
    const block = targets.subarray(start, end);
    const B = block.length;

    const used = modelsUsed(p, models);
    const allMasks = readNpy(join(masksOf(models, 'datamodels').dir, MASKS.masks));
    const nTrain = allMasks.shape[1];
    const nMasks = used.masks;
    const masks = (allMasks.data as Uint8Array).subarray(0, nMasks * nTrain);
    const margins = readNpy(join(models.dir, MODELS.marginsTest));
    const nTest = margins.shape[1];
    const nModels = used.models;
    const maskOf = readNpy(join(models.dir, MODELS.maskOf)).data as Int32Array;
    const { truth } = marginsPerMask(margins.data as Float32Array, nModels, nTest, maskOf, nMasks, block);
    // Responses as [masks, B] (row k = every block target's margin on mask k).
    const y = new Float32Array(nMasks * B);
    for (let j = 0; j < B; j++) for (let k = 0; k < nMasks; k++) y[k * B + j] = truth[j * nMasks + k];

    // The held-out masks depend on the stage alone, so every block chooses λ on the same ones.
    const nHeld = Math.max(1, Math.round(p.heldOut * nMasks));
    const heldOut = Rng.from(ctx.hash, 'held-out').permutation(nMasks).subarray(0, nHeld);
    const r = lassoBlock(masks, nMasks, nTrain, y, B, heldOut, {
      pathLength: p.path,
      lambdaMinRatio: p.lambdaMinRatio,
      maxIter: p.maxIter,
      tol: p.tol,
      patience: p.patience,
      refit: p.refit,
      screening: p.screening,
      progress: ctx.progress,
    });
    writeNpy(join(ctx.outDir, UNIT.weights), r.weights, [B, nTrain]);
    for (const key of PER_TARGET) writeNpy(join(ctx.outDir, UNIT[key]), r[key], [B]);
    writeNpy(join(ctx.outDir, UNIT.nonzeros), r.nonzeros, [B]);
    ctx.log(`datamodels: targets ${start}..${end - 1}: ${r.pathVisited} λ values, ${r.iterations} iterations${p.screening ? `, on ${(100 * r.featuresSolved).toFixed(0)}% of the features` : ''}`);
    return { metrics: { targets: B, pathVisited: r.pathVisited, iterations: r.iterations, ...(p.screening ? { featuresSolved: r.featuresSolved } : {}) } };
  },

  async combine(ctx) {
    const targets = targetIndices(ctx);
    const masks = masksOf(ctx.inputs.models, 'datamodels');
    const nTrain = readNpyHeader(join(masks.dir, MASKS.masks)).shape[1];
    const { masks: nMasks, models: nModels } = modelsUsed(ctx.params, ctx.inputs.models);
    const writer = new ScoresWriter(ctx.outDir, nTrain, targets);
    const extra = Object.fromEntries(PER_TARGET.map((k) => [k, new Float32Array(targets.length)])) as Record<(typeof PER_TARGET)[number], Float32Array>;
    let nonzeros = 0;
    try {
      for (let u = 0; u < ctx.count; u++) {
        const [start] = blockRange(u, ctx.params.blockSize, targets.length);
        writer.append(readNpy(join(ctx.unitDir(u), UNIT.weights)).data as Float32Array);
        for (const key of PER_TARGET) extra[key].set(readNpy(join(ctx.unitDir(u), UNIT[key])).data as Float32Array, start);
        for (const c of readNpy(join(ctx.unitDir(u), UNIT.nonzeros)).data) nonzeros += c;
      }
    } catch (e) {
      writer.abort();
      throw e;
    }
    for (const key of PER_TARGET) writeNpy(join(ctx.outDir, UNIT[key]), extra[key]);
    // Held-out R² = 1 − MSE(chosen λ) / MSE(predicting the mean), averaged over targets.
    let r2 = 0;
    for (let j = 0; j < targets.length; j++) r2 += extra.heldOutMseNull[j] > 0 ? 1 - extra.heldOutMse[j] / extra.heldOutMseNull[j] : 0;
    r2 /= targets.length;
    const meanNonzeros = nonzeros / targets.length;
    const nHeld = Math.max(1, Math.round(ctx.params.heldOut * nMasks));
    writer.close({ method: 'datamodels', masks: nMasks, models: nModels, heldOutMasks: nHeld, heldOutR2: r2, meanNonzeros, objective: '(1/2K)‖y − b − Xw‖² + λ‖w‖₁' });
    ctx.log(`datamodels: ${targets.length} targets on ${nMasks} masks (${nHeld} held out): held-out R² ${r2.toFixed(3)}, ${meanNonzeros.toFixed(0)} nonzero weights per target`);
    return { metrics: { targets: targets.length, masks: nMasks, models: nModels, heldOutR2: r2, meanNonzeros } };
  },
});

/** For tools and tests: the per-target extras of a finished datamodels artifact. */
export function readDatamodelExtras(dir: string): { intercept: Float32Array; lambda: Float32Array } {
  return {
    intercept: readNpy(join(dir, UNIT.intercept)).data as Float32Array,
    lambda: readNpy(join(dir, UNIT.lambda)).data as Float32Array,
  };
}
