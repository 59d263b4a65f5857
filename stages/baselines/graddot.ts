/**
 * `graddot`: gradient dot product, the simplest linear attribution baseline:
 *
 *     τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i}
 *
 * with φ the (projected) margin gradients of the `features` input. TRAK without the
 * (ΦᵀΦ + λI)⁻¹ and (1 − p) terms; on the same cached features, a sweep compares them.
 */
import { z } from 'zod';
import { defineStage } from '../../pipeline/registry.ts';
import { backendInfo } from '../backend.ts';
import { scoreInBlocks } from '../attribution/blocked.ts';
import { openFeatures } from '../attribution/features.ts';
import { ScoresWriter } from '../attribution/scores.ts';

export const graddotParams = z.strictObject({
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
});
export type GraddotParams = z.infer<typeof graddotParams>;

export const graddot = defineStage<GraddotParams>({
  name: 'graddot',
  version: '1',
  description: 'Gradient dot product φ(x)ᵀφ_i, averaged over models',
  equation: 'τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i}',
  params: graddotParams,
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
        terms: Array.from({ length: meta.models }, (_, s) => ({ targets: features.targetsPath(s), train: features.trainPath(s), weight: 1 / meta.models })),
      });
    } catch (e) {
      writer.abort();
      throw e;
    }
    writer.close({ method: 'graddot', models: meta.models, k: meta.k, projector: meta.projector });
    for (const line of writer.summary(ctx.dir)) ctx.log(line);
    return { info: { ...info }, metrics: { targets: meta.nTargets, train: meta.nTrain, models: meta.models, k: meta.k } };
  },
});
