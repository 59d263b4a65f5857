/**
 * The two simplest linear attribution baselines, on the `features` of linearize:
 *
 *   `graddot`  τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i}
 *   `gradcos`  τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i} / (‖φ_s(x)‖ ‖φ_{s,i}‖)
 *
 * with φ the (projected) margin gradients. graddot is TRAK without the (ΦᵀΦ + λI)⁻¹ and
 * (1 − p) terms; gradcos is insensitive to gradient magnitude, so it ranks by direction
 * only (a zero gradient scores 0). On the same cached features, a sweep compares them.
 */
import { z } from 'zod';
import { defineStage, type StageKind } from '../../pipeline/registry.ts';
import { backendInfo } from '../backend.ts';
import { scoreInBlocks } from '../attribution/blocked.ts';
import { openFeatures } from '../attribution/features.ts';
import { ScoresWriter } from '../attribution/scores.ts';

export const gradientSimilarityParams = z.strictObject({
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
});
export type GradientSimilarityParams = z.infer<typeof gradientSimilarityParams>;

function gradientSimilarity(name: string, cosine: boolean, description: string, equation: string): StageKind<GradientSimilarityParams> {
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
      const features = openFeatures(ctx.inputs.features);
      const { meta } = features;
      const writer = new ScoresWriter(ctx.outDir, meta.nTrain, features.targetIndex(), ctx.params.topK);
      try {
        scoreInBlocks({
          writer,
          targetBlock: ctx.params.targetBlock,
          terms: Array.from({ length: meta.models }, (_, s) => ({ targets: features.targetsPath(s), train: features.trainPath(s), weight: 1 / meta.models, cosine })),
        });
      } catch (e) {
        writer.abort();
        throw e;
      }
      writer.close({ method: name, models: meta.models, k: meta.k, projector: meta.projector });
      for (const line of writer.summary(ctx.dir)) ctx.log(line);
      return { info: { ...info }, metrics: { targets: meta.nTargets, train: meta.nTrain, models: meta.models, k: meta.k } };
    },
  });
}

export const graddot = gradientSimilarity('graddot', false, 'Gradient dot product φ(x)ᵀφ_i, averaged over models', 'τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i}');
export const gradcos = gradientSimilarity(
  'gradcos',
  true,
  'Gradient cosine similarity cos(φ(x), φ_i), averaged over models',
  'τ(x)_i = (1/S) Σ_s cos(φ_s(x), φ_{s,i})',
);
