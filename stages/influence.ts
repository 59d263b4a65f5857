/**
 * `influence`: exact influence functions (Koh & Liang 2017, I_up,loss, written for the
 * margin f), for models small enough to hold a p × p matrix:
 *
 *     τ(x)_i = (1/S) Σ_s (1 − p_{s,i}) · g_s(x)ᵀ (H_s + d·I)⁻¹ g_{s,i}
 *
 * Why: the training loss is ℓ = −log softmax(z)_y = −log σ(f), so ∇ℓ_i = −(1 − p_i) g_i
 * (g = ∇θ f). Up-weighting z_i moves θ by −H⁻¹∇ℓ_i, which changes f(x) by
 * (1 − p_i) g(x)ᵀH⁻¹g_i: positive τ = including z_i raises the target's margin;
 * τ ≈ f(x; θ) − f(x; θ_{−i}) (leave-one-out). S_s is the training subset of model s
 * (features → models → masks; all train examples when there are none). `models: S` uses
 * the first S models of the features (default: all), as trak's does.
 *
 * The Hessian H_s of Σ_{i∈S_s} ℓ_i (`hessian`):
 *
 *   margin:   Σ_i p_i(1 − p_i) g_i g_iᵀ                       Gauss-Newton through f
 *   softmax:  Σ_i (diag π_i − π_i π_iᵀ) ⊗ x̃_i x̃_iᵀ              exact, softmax output layer
 *           = margin + Σ_i (1 − p_i)(diag q_i − q_i q_iᵀ) ⊗ x̃_i x̃_iᵀ
 *   auto:     softmax when the features are one softmax output layer, else margin
 *
 * (π_i: all class probabilities; q_i: softmax over the classes ≠ y, so π = p e_y + (1 − p) q;
 * x̃_i = [x_i; 1], the layer's input.) ∇²ℓ = σ'(f) g gᵀ − (1 − p) ∇²f: the margin form
 * keeps the first term only. It is exact for binary logistic regression (C = 2: q is
 * one-hot, the extra term is 0) but for C > 2 it is rank one per example, so it leaves
 * out the curvature of f itself across the other C − 2 class directions (the second
 * line; the covariance of the one-hot class split on {y, not y}). The softmax form is
 * the exact Hessian of multinomial logistic regression (or of a network's last layer
 * with linearize's grad_wrt on that layer alone), rebuilt from g alone, since
 * g_i = x̃_i (e_y − q_i)ᵀ (softmax-hessian.ts); for several layers the per-class logit
 * Jacobians are not in the features, so auto falls back to margin there.
 *
 * d·I stands for weight decay and for stopping early, and keeps H invertible: a model
 * trained on the mean loss over |S| examples with `weightDecay: wd` matches d = |S|·wd;
 * sklearn's C matches d = 1/C. `{relative: r}` is r · mean diag(H_s) per model.
 *
 * Defaults (hessian auto, damping {relative: 2}) were chosen by LDS on logistic
 * regression, SGD 0.05, momentum 0.9, batch 64, no weight decay: 5000 train / 500
 * targets, 1 model on an α = 0.5 subset, scored against 100 fresh α = 0.5 subsets. d was
 * swept in numpy on this stage's own input features (H's eigendecomposition once, then
 * every d); this stage gave the same LDS at d = 2 (0.6894 softmax, 0.6324 margin):
 *
 *     d / mean diag(H)              0.01    0.3     1       2       3       10      best (at)
 *     MNIST, 10 epochs, softmax     0.287   0.552   0.653   0.689   0.700   0.671   0.700 (3–5)
 *     MNIST, 10 epochs, margin      0.247   0.471   0.581   0.632   0.653   0.653   0.665 (5)
 *     MNIST, 30 epochs, softmax     0.310   0.531   0.595   0.611   0.610   0.561   0.611 (2–3)
 *     MNIST, 30 epochs, margin      0.291   0.467   0.538   0.566   0.573   0.548   0.573 (3)
 *     Fashion-MNIST, softmax        0.188   0.343   0.368   0.362   0.351   0.287   0.368 (1)
 *     Fashion-MNIST, margin         0.173   0.312   0.345   0.347   0.340   0.284   0.348 (1–2)
 *
 * (MNIST 10 epochs is bench/lds/mnist-lr.yaml, ground truth 2 seeds per subset; the
 * other two are that config with fit.epochs: 30 or source: fashion-mnist and 1 seed per
 * subset.) The old default, margin at 0.01 · mean diag, scored 0.247. The softmax
 * Hessian beats margin at every d, by 0.02–0.04 at each one's best; d = 2 · mean diag
 * is within 0.011 of the best softmax d in all three. Why d is so large: these models
 * are early-stopped SGD. T steps of rate η with momentum μ act like a ridge of about
 * |S|(1 − μ)/(η T) = batch · (1 − μ)/(η · epochs) on the summed loss: 12.8 for 10
 * epochs (≈ 2.9 · mean diag; the softmax LDS peaks at d ≈ 13–20) and 4.3 for 30 (peak
 * ≈ 6–9); d → 0 is the influence at the converged, unregularized optimum, which these
 * models are not near. Networks (margin Hessian on several layers) were not measured:
 * sweep d for them.
 *
 * Those sweeps scored d on the ground truth they reported. The default is now backed by
 * a held-out choice on a task BENCHMARKS.md does not report (issue 14):
 * bench/select/fashion-lr-influence-damping.yaml chose relative 2 over 0.5 and 8 on 50
 * held-out Fashion-MNIST subsets (held-out LDS 0.497 vs 0.437 and 0.480).
 *
 * g = ∇θ f unprojected: the input must come from linearize with the identity projector.
 * p (the number of parameters) is limited by `maxParams` (default 2048: the float64
 * inverse holds a few p × p arrays, 4 · 2048² · 8 B ≈ 134 MB, and takes ~10 s in JS).
 *
 * Work: one unit per model writes X_s = Φ_s (H_s + dI)⁻¹ (margin: lib/attribution/
 * solve.ts with weights p(1 − p)·[i ∈ S_s]; softmax: softmax-hessian.ts); combine()
 * scores blocks of targets with the per-model (1 − p_{s,i}) inside the average.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, type Artifact } from '../pipeline/registry.ts';
import { backendInfo, initBackend } from '../lib/backend.ts';
import { scoreInBlocks } from '../lib/attribution/blocked.ts';
import { openFeatures, trainingMask } from '../lib/attribution/features.ts';
import { ScoresWriter } from '../lib/attribution/scores.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { solveRegularized, type SolveResult } from '../lib/attribution/regularized-solve.ts';
import { softmaxHessian, softmaxLayerOf, solveWithHessian } from '../lib/attribution/softmax-hessian.ts';
import { featureSetsUsed, modelsParam, requireMarginFeatures, trainedOn } from './inputs.ts';

export const HESSIANS = ['auto', 'softmax', 'margin'] as const;

export const influenceParams = z.strictObject({
  hessian: z
    .enum(HESSIANS)
    .default('auto')
    .describe('softmax: exact cross-entropy Hessian of a softmax output layer (logistic regression); margin: Gauss-Newton Σ p(1−p) g gᵀ; auto: softmax when the features are one softmax output layer, else margin'),
  damping: z
    .union([z.number().nonnegative(), z.strictObject({ relative: z.number().nonnegative() })])
    .default({ relative: 2 })
    .describe('damping d: absolute, or {relative: r} = r · mean diag(H) per model (the default 2 was chosen on held-out subsets of Fashion-MNIST logistic regression: bench/select/fashion-lr-influence-damping.yaml)'),
  models: modelsParam(),
  maxParams: z.number().int().positive().default(2048).describe('refuse models with more parameters than this (the Hessian is p × p)'),
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
});
export type InfluenceParams = z.infer<typeof influenceParams>;

const X_FILE = 'x.npy';
const SOLVE_FILE = 'solve.json';

/** solve.json: the solve plus which Hessian was used (and, under auto, why not softmax). */
type InfluenceSolve = SolveResult & { hessian: 'softmax' | 'margin'; why?: string };

function openChecked(artifact: Artifact, maxParams: number) {
  const features = openFeatures(artifact.dir);
  const { meta } = features;
  requireMarginFeatures('influence', meta, artifact);
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
  version: '2',
  description: 'Influence functions with an exact damped Hessian: cross-entropy for a softmax layer, else Gauss-Newton (small models, identity projector)',
  equation: 'τ(x)_i = (1/S) Σ_s (1 − p_{s,i}) g_s(x)ᵀ (H_s + dI)⁻¹ g_{s,i},  H_s = Σ_{j∈S_s} (diag π_j − π_jπ_jᵀ) ⊗ x̃_jx̃_jᵀ (softmax) or Σ_{j∈S_s} p_j(1−p_j) g_j g_jᵀ (margin)',
  params: influenceParams,
  inputs: { features: { kinds: ['features'], description: 'exact gradients: linearize with the identity projector' } },
  output: 'scores',
  units(ctx) {
    return featureSetsUsed('influence', ctx.params.models, openChecked(ctx.inputs.features, ctx.params.maxParams).meta);
  },
  async runUnit(ctx) {
    await initBackend(ctx.backend);
    const features = openChecked(ctx.inputs.features, ctx.params.maxParams);
    const s = ctx.index;
    const p = features.probs()[s];
    const mask = trainingMask(features, s, trainedOn(ctx.inputs.features));
    const out = join(ctx.outDir, X_FILE);
    const { hessian } = ctx.params;
    const layer = hessian === 'margin' ? undefined : softmaxLayerOf(features, s);
    let result: InfluenceSolve;
    if (layer && !('reason' in layer)) {
      result = { ...solveWithHessian(features.trainPath(s), out, softmaxHessian(features.trainPath(s), layer, p, mask), ctx.params.damping), hessian: 'softmax' };
    } else {
      if (hessian === 'softmax') throw new Error(`influence: hessian: softmax needs the gradients of a softmax output layer alone, but ${layer!.reason}. Use hessian: margin (or auto)`);
      const w = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) w[i] = mask && !mask[i] ? 0 : p[i] * (1 - p[i]);
      result = { ...solveRegularized(features.trainPath(s), out, ctx.params.damping, w), hessian: 'margin', ...(layer ? { why: layer.reason } : {}) };
    }
    writeJsonAtomic(join(ctx.outDir, SOLVE_FILE), result);
    ctx.log(`influence model ${s}: p = ${result.k}, ${result.hessian} Hessian${result.why ? ` (${result.why})` : ''}, damping = ${result.lambda.toPrecision(4)}`);
    return { metrics: { damping: result.lambda, hessian: result.hessian } };
  },
  async combine(ctx) {
    const info = await backendInfo(ctx.backend);
    const features = openChecked(ctx.inputs.features, ctx.params.maxParams);
    const { meta } = features;
    const S = featureSetsUsed('influence', ctx.params.models, meta);
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
    const solves = Array.from({ length: S }, (_, s) => JSON.parse(readFileSync(join(ctx.unitDir(s), SOLVE_FILE), 'utf8')) as InfluenceSolve);
    const damping = solves.map((r) => r.lambda);
    const hessian = [...new Set(solves.map((r) => r.hessian))].join('+');
    writer.close({ method: 'influence', models: S, params: meta.k, hessian, damping: ctx.params.damping, dampingPerModel: damping });
    for (const line of writer.summary(ctx.dir)) ctx.log(line);
    return {
      info: { ...info },
      metrics: { targets: meta.nTargets, train: meta.nTrain, models: S, params: meta.k, hessian, damping: damping.reduce((a, b) => a + b, 0) / S },
    };
  },
});
