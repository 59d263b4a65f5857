/**
 * `graddot`: the simplest linear attribution baseline, on the `features` of linearize:
 *
 *     τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i}
 *
 * with φ the (projected) margin gradients: TRAK without the (ΦᵀΦ + λI)⁻¹ and (1 − p)
 * terms. On linearize's `output: loss` features, φ = Pᵀ∇ℓ and this is dattri's Grad-Dot
 * (one full-data model) and its TracIn (final weights of independent full-data models,
 * equal learning-rate weights: a positive constant, so the same ranking). Its cosine twin is `gradcos` (gradcos.ts), built by the same factory; on the
 * same cached features, a sweep compares them. `models: S` uses the first S models of
 * the features (default: all), as trak's does.
 */
import { z } from 'zod';
import { defineStage, type StageKind } from '../pipeline/registry.ts';
import { backendInfo } from '../lib/backend.ts';
import { scoreInBlocks } from '../lib/attribution/blocked.ts';
import { openFeatures } from '../lib/attribution/features.ts';
import { ScoresWriter } from '../lib/attribution/scores.ts';
import { featureSetsUsed, modelsParam } from './inputs.ts';

export const gradientSimilarityParams = z.strictObject({
  models: modelsParam(),
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
});
export type GradientSimilarityParams = z.infer<typeof gradientSimilarityParams>;

/** A gradient-similarity kind: dot products of φ, or cosines when `cosine`. */
export function gradientSimilarity(name: string, cosine: boolean, description: string, equation: string): StageKind<GradientSimilarityParams> {
  return defineStage<GradientSimilarityParams>({
    name,
    version: '1',
    description,
    equation,
    params: gradientSimilarityParams,
    inputs: { features: { kinds: ['features'], description: 'projected gradients from linearize' } },
    output: 'scores',
    async run(ctx) {
      const info = await backendInfo(ctx.backend);
      const features = openFeatures(ctx.inputs.features.dir);
      const { meta } = features;
      const S = featureSetsUsed(name, ctx.params.models, meta);
      const writer = new ScoresWriter(ctx.outDir, meta.nTrain, features.targetIndex(), ctx.params.topK);
      try {
        scoreInBlocks({
          writer,
          targetBlock: ctx.params.targetBlock,
          terms: Array.from({ length: S }, (_, s) => ({ targets: features.targetsPath(s), train: features.trainPath(s), weight: 1 / S, cosine })),
        });
      } catch (e) {
        writer.abort();
        throw e;
      }
      writer.close({ method: name, models: S, k: meta.k, projector: meta.projector });
      for (const line of writer.summary(ctx.dir)) ctx.log(line);
      return { info: { ...info }, metrics: { targets: meta.nTargets, train: meta.nTrain, models: S, k: meta.k } };
    },
  });
}

export const graddot = gradientSimilarity('graddot', false, 'Gradient dot product φ(x)ᵀφ_i, averaged over models', 'τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i}');
