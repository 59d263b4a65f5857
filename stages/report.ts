/**
 * `report`: the report page as a stage of the DAG, for configs that want it with the
 * run. Inputs are lists of lds and scores artifacts (both optional); the page covers
 * them and everything upstream of them:
 *
 *   index.html        self-contained (inline SVG and CSS, images as data: URIs, no script)
 *   plots/<id>.svg    each plot, and plots/<id>.png (resvg) unless png: false
 *
 * in the stage's store entry. It is the same page `attrib report` writes for one
 * experiment (report/page.ts); `attrib report` is the way to report across sweep
 * points, and shows stages not run yet.
 *
 * For lds inputs: LDS against compute (Σ seconds and models trained upstream of the
 * scores), the per-target LDS, ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i against the real margin
 * f̄(x_j; θ(S_k)) for a few targets, and those targets' top proponents and opponents.
 * For scores inputs without an lds: the targets' proponents and opponents.
 */
import { dirname } from 'node:path';
import { z } from 'zod';
import { defineStage } from '../pipeline/registry.ts';

export const reportParams = z.strictObject({
  targets: z.number().int().min(0).default(3).describe('targets shown per lds / scores input (best, median, worst LDS_j, ...)'),
  top: z.number().int().min(0).default(5).describe('proponents and opponents shown per target'),
  png: z.boolean().default(true).describe('also write PNG copies of the plots'),
});
export type ReportParams = z.infer<typeof reportParams>;

export const report = defineStage<ReportParams>({
  name: 'report',
  version: '2',
  description: 'a self-contained HTML report of its lds / scores inputs and everything upstream (DAG, stage table, LDS plots, proponents and opponents)',
  equation: 'x = Σ seconds (or models) upstream of the scores, y = LDS;  ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i against f̄(x_j; θ(S_k))',
  params: reportParams,
  inputs: {
    lds: { kinds: ['lds'], many: true, optional: true, description: 'lds stages: LDS plots, scatter, proponents and opponents' },
    scores: { kinds: ['scores'], many: true, optional: true, description: 'attribution scores without an lds: proponents and opponents' },
  },
  output: 'report',
  async run(ctx) {
    const { graphFromArtifacts } = await import('../report/graph.ts');
    const { experimentPage, writePage } = await import('../report/page.ts');
    const graph = graphFromArtifacts(ctx.inputs, dirname(ctx.dir), ctx.hash);
    const page = await experimentPage(graph, graph.experiments[0]!, { targets: ctx.params.targets, top: ctx.params.top, png: ctx.params.png });
    await writePage(ctx.outDir, page, ctx.params);
    const lds = [...graph.nodes.values()].filter((n) => n.output === 'lds').length;
    ctx.log(`report: ${page.plots.length} plots, ${page.images} images, ${lds} lds stage(s), ${graph.nodes.size} stages upstream`);
    return { metrics: { plots: page.plots.length, images: page.images, ldsStages: lds, stages: graph.nodes.size } };
  },
});
