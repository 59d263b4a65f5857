/**
 * `influence`: exact influence functions with a damped Gauss-Newton Hessian (Koh &
 * Liang 2017, I_up,loss, written for the margin f), for models small enough to hold a
 * p × p matrix:
 *
 *     H_s      = Σ_{i ∈ S_s} p_{s,i}(1 − p_{s,i}) g_{s,i} g_{s,i}ᵀ + d·I
 *     τ(x)_i   = (1/S) Σ_s (1 − p_{s,i}) · g_s(x)ᵀ H_s⁻¹ g_{s,i}
 *
 * Why: the training loss is ℓ = −log σ(f), so ∇ℓ_i = −(1 − p_i) g_i and the Gauss-Newton
 * (Fisher) term of its Hessian is p_i(1 − p_i) g_i g_iᵀ. Up-weighting z_i moves θ by
 * −H⁻¹∇ℓ_i, which changes f(x) by (1 − p_i) g(x)ᵀH⁻¹g_i: positive τ = including z_i
 * raises the target's margin; τ ≈ f(x; θ) − f(x; θ_{−i}) (leave-one-out). For binary
 * logistic regression this is the exact Newton-step Hessian; for a network it is the GN
 * approximation. S_s is the training subset of model s (features → models → masks; all
 * train examples when there are none). d·I stands for weight decay and keeps H
 * invertible: a model trained on the mean loss over |S| examples with `weightDecay: wd`
 * matches d = |S|·wd; sklearn's C matches d = 1/C.
 *
 * g = ∇θ f unprojected: the input must come from linearize with the identity projector.
 * p (the number of parameters) is limited by `maxParams` (default 2048: the float64
 * inverse holds a few p × p arrays, 4 · 2048² · 8 B ≈ 134 MB, and takes ~10 s in JS).
 *
 * Work: one unit per model writes X_s = Φ_s H_s⁻¹ (stages/attribution/solve.ts with
 * weights p(1 − p)·[i ∈ S_s]); combine() scores blocks of targets with the per-model
 * (1 − p_{s,i}) inside the average.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from '../../pipeline/registry.ts';
import { backendInfo, initBackend } from '../backend.ts';
import { scoreInBlocks } from '../attribution/blocked.ts';
import { openFeatures, trainingMask } from '../attribution/features.ts';
import { ScoresWriter, writeJsonAtomic } from '../attribution/scores.ts';
import { solveRegularized, type SolveResult } from '../attribution/solve.ts';

export const influenceParams = z.strictObject({
  damping: z
    .union([z.number().nonnegative(), z.strictObject({ relative: z.number().nonnegative() })])
    .default({ relative: 0.01 })
    .describe('damping d: absolute, or {relative: r} = r · mean diag(Σ p(1−p) g gᵀ) per model'),
  maxParams: z.number().int().positive().default(2048).describe('refuse models with more parameters than this (the Hessian is p × p)'),
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
});
export type InfluenceParams = z.infer<typeof influenceParams>;

const X_FILE = 'x.npy';
const SOLVE_FILE = 'solve.json';

function openChecked(artifact: Parameters<typeof openFeatures>[0], maxParams: number) {
  const features = openFeatures(artifact);
  const { meta } = features;
  if (meta.projector.kind !== 'identity') {
    throw new Error(
      `influence needs exact gradients: its features input uses the ${meta.projector.kind} projector (k = ${meta.k}); ` +
        `use a linearize stage with projector: {kind: identity}`,
    );
  }
  if (meta.k > maxParams) {
    throw new Error(
      `influence: the model has ${meta.k} parameters (in the featurized layers), above maxParams = ${maxParams}; the exact ` +
        `${meta.k} × ${meta.k} Hessian would not fit comfortably. Restrict linearize's grad_wrt to fewer layers, raise maxParams, or use trak`,
    );
  }
  return features;
}

export const influence = defineStage<InfluenceParams>({
  name: 'influence',
  version: '1',
  description: 'Influence functions with the exact damped Gauss-Newton Hessian (small models, identity projector)',
  equation: 'τ(x)_i = (1/S) Σ_s (1 − p_{s,i}) g_s(x)ᵀ (Σ_{j∈S_s} p_j(1−p_j) g_j g_jᵀ + dI)⁻¹ g_{s,i}',
  params: influenceParams,
  inputs: { features: { kinds: ['features'], description: 'exact gradients: linearize with the identity projector' } },
  output: 'scores',
  units(ctx) {
    return openChecked(ctx.inputs.features, ctx.params.maxParams).meta.models;
  },
  async runUnit(ctx) {
    await initBackend(ctx.backend);
    const features = openChecked(ctx.inputs.features, ctx.params.maxParams);
    const s = ctx.index;
    const p = features.probs()[s];
    const mask = trainingMask(features, s);
    const w = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) w[i] = mask && !mask[i] ? 0 : p[i] * (1 - p[i]);
    const result: SolveResult = solveRegularized(features.trainPath(s), join(ctx.outDir, X_FILE), ctx.params.damping, w);
    writeJsonAtomic(join(ctx.outDir, SOLVE_FILE), result);
    ctx.log(`influence model ${s}: p = ${result.k}, damping = ${result.lambda.toPrecision(4)}`);
    return { metrics: { damping: result.lambda } };
  },
  async combine(ctx) {
    const info = await backendInfo(ctx.backend);
    const features = openChecked(ctx.inputs.features, ctx.params.maxParams);
    const { meta } = features;
    const S = meta.models;
    const probs = features.probs();
    const writer = new ScoresWriter(ctx.outDir, meta.nTrain, features.targetIndex(), ctx.params.topK);
    try {
      scoreInBlocks({
        writer,
        targetBlock: ctx.params.targetBlock,
        terms: Array.from({ length: S }, (_, s) => ({
          targets: features.targetsPath(s),
          train: join(ctx.unitDir(s), X_FILE),
          weight: 1 / S,
          trainScale: probs[s].map((v) => 1 - v),
        })),
      });
    } catch (e) {
      writer.abort();
      throw e;
    }
    const damping = Array.from({ length: S }, (_, s) => (JSON.parse(readFileSync(join(ctx.unitDir(s), SOLVE_FILE), 'utf8')) as SolveResult).lambda);
    writer.close({ method: 'influence', models: S, params: meta.k, damping: ctx.params.damping, dampingPerModel: damping });
    for (const line of writer.summary(ctx.dir)) ctx.log(line);
    return {
      info: { ...info },
      metrics: { targets: meta.nTargets, train: meta.nTrain, models: S, params: meta.k, damping: damping.reduce((a, b) => a + b, 0) / S },
    };
  },
});
