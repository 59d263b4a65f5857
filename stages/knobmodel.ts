/**
 * `knobmodel`: learns each target's output as a function of the knob setting θ directly
 * from trained models, and scores it like LDS on held-out draws.
 *
 *   params: {model?: auto | linear | quadratic, folds?, lambdas?, heldOut?, targets?, bootstrap?, ci?}
 *   inputs: models (a train stage on `subsets` with knobs), heldout? (another one, fresh draws)
 *
 *   ȳ_j(θ_k)  = margin of target j averaged over the seeds trained on draw k
 *   ŷ_j(θ)    = ȳ_j + z(θ)ᵀ w_j,   w_j = (ZᵀZ + λ_j I)⁻¹ Zᵀ(y_j − ȳ_j),  z = standardized φ(θ)
 *               φ linear (θ) or quadratic (θ and θ_a θ_b); φ and λ_j by K-fold CV per target
 *   spearman  = mean_j spearman_k( ŷ_j(θ_k), ȳ_j(θ_k) )  over the held-out draws k
 *
 * Held-out draws: the `heldout` models when given (the same ones knob-predict scores,
 * so the two compare side by side), else a `heldOut` fraction of the `models` draws.
 * Writes the `knobs` artifact (lib/artifacts.ts KNOBS; slopes = the linear model's
 * ∂ŷ/∂θ) plus lambda.npy (relative λ_j), feature_map.npy (0 linear, 1 quadratic),
 * cv_mse.npy and intercept.npy (the linear model's, in θ units).
 * Metrics: spearman, spearmanStd, pearson, r2 (held-out, mean over targets), targets,
 * draws (held-out), trainDraws, quadraticTargets.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from '../pipeline/registry.ts';
import { resolveTargets, targetsParams } from '../lib/attribution/featurize.ts';
import { writeNpy } from '../lib/io/npy.ts';
import { testCount, writeKnobReport } from '../lib/knobs/evaluate.ts';
import { KnobError } from '../lib/knobs/groups.ts';
import { fitKnobModel, type FeatureMap } from '../lib/knobs/regress.ts';
import { Rng } from '../lib/random/rng.ts';
import { checkSameDataset, findDataset, knobOutcomesOf } from './inputs.ts';

export const knobmodelParams = z.strictObject({
  model: z.enum(['auto', 'linear', 'quadratic']).default('auto').describe('feature map of θ; auto picks linear or quadratic per target by CV error'),
  folds: z.number().int().min(2).default(5).describe('cross-validation folds over the fitting draws'),
  lambdas: z.array(z.number().positive()).min(1).default([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10]).describe('ridge λ grid, relative to mean diag(ZᵀZ)'),
  heldOut: z.number().gt(0).lt(1).default(0.25).describe('fraction of the draws held out for evaluation when there is no heldout input'),
  targets: targetsParams,
  bootstrap: z.number().int().min(0).default(1000).describe('bootstrap resamples of the targets for the interval of the mean'),
  ci: z.number().gt(0).lt(1).default(0.95).describe('coverage of the bootstrap interval'),
});
export type KnobmodelParams = z.infer<typeof knobmodelParams>;

const FILES = { lambda: 'lambda.npy', featureMap: 'feature_map.npy', cvMse: 'cv_mse.npy', intercept: 'intercept.npy' } as const;

export const knobmodel = defineStage<KnobmodelParams>({
  name: 'knobmodel',
  // 2: undefined targets are dropped from the means (were counted as 0)
  version: '2',
  description: 'regresses each target\'s output on the knob setting θ (ridge, linear or quadratic, by CV) and scores it on held-out draws',
  equation: 'ŷ_j(θ) = ȳ_j + φ(θ)ᵀ w_j (ridge, φ and λ by K-fold CV);  spearman = mean_j spearman_k(ŷ_j(θ_k), ȳ_j(θ_k)) on held-out draws',
  params: knobmodelParams,
  inputs: {
    models: { kinds: ['models'], description: 'a train stage on knob subsets: θ from its masks, outputs from its margins' },
    heldout: { kinds: ['models'], optional: true, description: 'a train stage on fresh knob draws to evaluate on (default: a heldOut fraction of models)' },
  },
  output: 'knobs',
  async run(ctx) {
    const p = ctx.params;
    const { models, heldout } = ctx.inputs;
    const targets = resolveTargets(p.targets, testCount(models.dir), 'knobmodel');
    const T = targets.length;
    const fit = knobOutcomesOf(models, targets, 'knobmodel');
    const K = fit.draws.count;
    const d = fit.draws.d;

    let fitRows: Int32Array;
    let evalRows: Int32Array;
    let evalTheta: Float32Array;
    let evalK: number;
    let truth: Float64Array;
    let seedsPerDraw: number;
    if (heldout) {
      checkSameDataset(models, 'models', heldout, 'heldout');
      const ev = knobOutcomesOf(heldout, targets, 'knobmodel');
      if (ev.draws.meta.names.join('\u0000') !== fit.draws.meta.names.join('\u0000')) {
        throw new KnobError(`knobmodel: models have knobs [${fit.draws.meta.names.join(', ')}] but heldout [${ev.draws.meta.names.join(', ')}]`);
      }
      fitRows = Int32Array.from({ length: K }, (_, k) => k);
      evalRows = Int32Array.from({ length: ev.draws.count }, (_, k) => k);
      evalTheta = ev.draws.theta;
      evalK = ev.draws.count;
      truth = ev.truth;
      seedsPerDraw = ev.seedsPerDraw;
    } else {
      const nHeld = Math.max(1, Math.round(p.heldOut * K));
      if (K - nHeld < 2) throw new KnobError(`knobmodel: ${K} draws leave ${K - nHeld} to fit after holding out ${nHeld}; train on more draws or give a heldout input`);
      const perm = Rng.from(ctx.hash, 'held-out').permutation(K);
      evalRows = perm.slice(0, nHeld).sort();
      fitRows = perm.slice(nHeld).sort();
      evalTheta = fit.draws.theta;
      evalK = K;
      truth = new Float64Array(T * nHeld);
      for (let j = 0; j < T; j++) for (let r = 0; r < nHeld; r++) truth[j * nHeld + r] = fit.truth[j * K + evalRows[r]];
      seedsPerDraw = fit.seedsPerDraw;
    }
    const maps: FeatureMap[] = p.model === 'auto' ? ['linear', 'quadratic'] : [p.model];
    const model = fitKnobModel({
      theta: fit.draws.theta,
      K,
      d,
      y: fit.truth,
      T,
      fitRows,
      evalTheta,
      evalK,
      evalRows,
      maps,
      lambdas: p.lambdas,
      folds: p.folds,
      rng: Rng.from(ctx.hash, 'folds'),
    });
    const m = evalRows.length;
    let r2 = 0;
    for (let j = 0; j < T; j++) {
      let mean = 0;
      for (let k = 0; k < m; k++) mean += truth[j * m + k] / m;
      let sse = 0;
      let sst = 0;
      for (let k = 0; k < m; k++) {
        sse += (model.predictions[j * m + k] - truth[j * m + k]) ** 2;
        sst += (truth[j * m + k] - mean) ** 2;
      }
      r2 += sst > 0 ? 1 - sse / sst : 0;
    }
    const quadraticTargets = model.map.filter((f) => f === 'quadratic').length;
    writeNpy(join(ctx.outDir, FILES.lambda), Float32Array.from(model.lambda), [T]);
    writeNpy(join(ctx.outDir, FILES.featureMap), Int32Array.from(model.map, (f) => (f === 'quadratic' ? 1 : 0)), [T]);
    writeNpy(join(ctx.outDir, FILES.cvMse), Float32Array.from(model.cvMse), [T]);
    writeNpy(join(ctx.outDir, FILES.intercept), Float32Array.from(model.linearIntercept), [T]);
    const metrics = writeKnobReport(
      ctx.outDir,
      {
        method: 'knobmodel',
        predictions: model.predictions,
        truth,
        T,
        K: m,
        slopes: model.slopes,
        targetIndex: targets,
        draws: fit.draws,
        dataDir: findDataset(models).dir,
        bootstrap: p.bootstrap,
        ci: p.ci,
        rng: Rng.from(ctx.seed, 'bootstrap'),
        seedsPerDraw,
        metrics: { r2: T > 0 ? r2 / T : Number.NaN, trainDraws: fitRows.length, quadraticTargets },
        extra: { model: p.model, folds: p.folds, heldOutFrom: heldout ? 'heldout' : 'models' },
      },
      ctx.log,
    );
    ctx.log(`knobmodel: fitted on ${fitRows.length} draws (${d} knobs), ${quadraticTargets} of ${T} targets chose quadratic features; held-out R² ${(metrics.r2 as number).toFixed(3)}`);
    return { metrics };
  },
});
