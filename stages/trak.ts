/**
 * `trak`: TRAK attribution scores from linearized models (Park et al., "TRAK:
 * Attributing Model Behavior at Scale", ICML 2023, Sec. 3 / Algorithm 1, the estimator
 * τ_TRAK):
 *
 *     τ_s(x)_i = φ_s(x)ᵀ (Φ_sᵀ Φ_s + λ_s I)⁻¹ φ_{s,i}                  one model s
 *     τ(x)_i   = soft_t( [ (1/S) Σ_s τ_s(x)_i ] · [ (1/S) Σ_s (1 − p_{s,i}) ] )
 *
 * φ_{s,i} = Pᵀ ∇θ f(z_i; θ_s) (the `features` input, from linearize); Φ_s stacks them
 * over the train split; p_{s,i} = σ(f(z_i; θ_s)) is the correct-class probability, so
 * (1 − p) is the "Q" term of the paper (the residual of the one-step Newton / ALO
 * estimate for logistic regression, averaged over models separately from τ_s as the
 * paper does); S is the number of models. soft_t(v) = sign(v)·max(|v| − t, 0) is the
 * paper's optional soft-thresholding (off by default: t = 0).
 *
 * `models: S` uses the first S models of the features (default: all), so one
 * linearize over the largest ensemble serves every smaller S through the cache: the
 * paper's curve of LDS against the number of models, from one ensemble.
 *
 * λ_s: `{relative: r}` (default r = 0.2, chosen on held-out subsets of tasks BENCHMARKS.md
 * does not report: bench/select/) means r · mean diag(Φ_sᵀΦ_s), per model;
 * λ = 0 is the paper's unregularized estimator and breaks down as k approaches n
 * (docs/design.md, "The math").
 *
 * Work: one unit per model computes X_s = Φ_s (Φ_sᵀΦ_s + λ_s I)⁻¹ ([n, k], by Cholesky,
 * or through the n × n system when k > n; lib/attribution/regularized-solve.ts). combine() then
 * scores blocks of targets: τ = (1/S) Σ_s T_s X_sᵀ, times Q, thresholded, so an n × m
 * score matrix is never held whole (lib/attribution/blocked.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from '../pipeline/registry.ts';
import { backendInfo, initBackend } from '../lib/backend.ts';
import { scoreInBlocks, softThreshold } from '../lib/attribution/blocked.ts';
import { meanOneMinusP, openFeatures } from '../lib/attribution/features.ts';
import { ScoresWriter } from '../lib/attribution/scores.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { solveRegularized, type SolveResult } from '../lib/attribution/regularized-solve.ts';
import { featureSetsUsed, modelsParam, requireMarginFeatures } from './inputs.ts';

export const lambdaSchema = z.union([
  z.number().nonnegative(),
  z.strictObject({ relative: z.number().nonnegative() }),
]);

export const trakParams = z.strictObject({
  lambda: lambdaSchema.default({ relative: 0.2 }).describe('ridge λ: absolute, or {relative: r} = r · mean diag(ΦᵀΦ) per model'),
  softThreshold: z
    .union([z.number().nonnegative(), z.strictObject({ relative: z.number().min(0).max(1) })])
    .optional()
    .describe('soft-threshold t of the scores: absolute, or {relative: r} = r · max_i |τ(x)_i| per target (default: off)'),
  models: modelsParam(),
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
});
export type TrakParams = z.infer<typeof trakParams>;

/**
 * Per unit s: the solve's λ and side, and U_s = Φ_s(x)(Φ_sᵀΦ_s + λ_s I)⁻¹ [m, k] when the
 * targets are fewer than the train examples (else X_s = Φ_s(Φ_sᵀΦ_s + λ_s I)⁻¹ [n, k]).
 */
const X_FILE = 'x.npy';
const SOLVE_FILE = 'solve.json';

function solveOf(unitDir: string): SolveResult {
  return JSON.parse(readFileSync(join(unitDir, SOLVE_FILE), 'utf8')) as SolveResult;
}

export const trak = defineStage<TrakParams>({
  name: 'trak',
  // 2: a unit's x.npy is U = Φ(x)(ΦᵀΦ + λI)⁻¹ on the target side when m < n (solve.json `side`)
  version: '2',
  description: 'TRAK scores: ridge-regularized after-kernel influence, ensembled over models',
  equation: 'τ(x)_i = soft_t( (1/S Σ_s φ_s(x)ᵀ(Φ_sᵀΦ_s + λ_s I)⁻¹φ_{s,i}) · (1/S Σ_s (1 − p_{s,i})) )',
  params: trakParams,
  inputs: { features: { kinds: ['features'], description: 'projected gradients from linearize' } },
  output: 'scores',
  units(ctx) {
    const { meta } = openFeatures(ctx.inputs.features.dir);
    requireMarginFeatures('trak', meta, ctx.inputs.features);
    return featureSetsUsed('trak', ctx.params.models, meta);
  },
  async runUnit(ctx) {
    await initBackend(ctx.backend);
    const features = openFeatures(ctx.inputs.features.dir);
    const s = ctx.index;
    const result: SolveResult = solveRegularized(features.trainPath(s), join(ctx.outDir, X_FILE), ctx.params.lambda, undefined, features.targetsPath(s));
    writeJsonAtomic(join(ctx.outDir, SOLVE_FILE), result);
    ctx.log(`trak model ${s}: ${result.form} solve on the ${result.side} side, k = ${result.k}, λ = ${result.lambda.toPrecision(4)}`);
    return { metrics: { lambda: result.lambda, meanDiag: result.meanDiag, form: result.form } };
  },
  async combine(ctx) {
    const info = await backendInfo(ctx.backend);
    const { params } = ctx;
    const features = openFeatures(ctx.inputs.features.dir);
    const { meta } = features;
    const S = featureSetsUsed('trak', params.models, meta);
    const q = meanOneMinusP(features.probs().slice(0, S));
    const n = meta.nTrain;
    const writer = new ScoresWriter(ctx.outDir, n, features.targetIndex(), params.topK);
    const threshold = params.softThreshold;
    try {
      scoreInBlocks({
        writer,
        targetBlock: params.targetBlock,
        terms: Array.from({ length: S }, (_, s) => {
          const solved = join(ctx.unitDir(s), X_FILE);
          const onTargets = solveOf(ctx.unitDir(s)).side === 'targets';
          return { targets: onTargets ? solved : features.targetsPath(s), train: onTargets ? features.trainPath(s) : solved, weight: 1 / S };
        }),
        finish(block, rows) {
          for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) block[r * n + i] *= q[i];
          if (threshold === undefined) return;
          if (typeof threshold === 'number') return softThreshold(block, threshold);
          for (let r = 0; r < rows; r++) {
            const row = block.subarray(r * n, (r + 1) * n);
            let max = 0;
            for (const v of row) max = Math.max(max, Math.abs(v));
            softThreshold(row, threshold.relative * max);
          }
        },
        progress: (f) => ctx.log(`trak: scored ${Math.round(f * 100)}% of targets`),
      });
    } catch (e) {
      writer.abort();
      throw e;
    }
    const lambdas = Array.from({ length: S }, (_, s) => solveOf(ctx.unitDir(s)).lambda);
    const lambdaMean = lambdas.reduce((a, b) => a + b, 0) / lambdas.length;
    const written = writer.close({
      method: 'trak',
      models: S,
      k: meta.k,
      projector: meta.projector,
      lambda: params.lambda,
      lambdaPerModel: lambdas,
      softThreshold: params.softThreshold ?? null,
    });
    for (const line of writer.summary(ctx.dir)) ctx.log(line);
    return {
      info: { ...info },
      metrics: { targets: written.nTargets, train: written.nTrain, models: S, k: meta.k, lambda: lambdaMean, projector: meta.projector.kind },
    };
  },
});
