/**
 * `select`: choose among candidate attribution scores (e.g. TRAK at several λ) by their
 * LDS on a HELD-OUT ground truth, and pass the best on as this stage's own `scores`.
 *
 *     LDS_c = mean_j spearman_k( Σ_{i∈S'_k} τ_c(x_j)_i , f̄(x_j; S'_k) )    S' = the held-out subsets
 *     ĉ     = argmax_c LDS_c   (ties: the first candidate in the list)
 *     output: τ_ĉ, unchanged (scores.npy, target_index.npy, top.json, scores.json)
 *
 * Contract: S' must be disjoint from the subsets the choice is later reported on (draw
 * them with another mask seed). This is checked wherever both are visible: against
 * the optional `evaluation` input here, and by every lds stage whose scores come
 * through a select stage (lib/evaluation/held-out.ts); sharing a subsets stage or any
 * identical subset is an error. Undefined targets are dropped per candidate as in lds.
 *
 * Recorded: select.json and the manifest (metrics candidate<i>Lds, chosen, heldOutLds,
 * runnerUpGap with its paired two-way bootstrap interval, info.candidates with each
 * candidate's stage kind, hash, params and held-out LDS).
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, inputList, type Metrics } from '../pipeline/registry.ts';
import { SCORES } from '../lib/artifacts.ts';
import { checkTrainSize, readGroundTruth, readScores, subsetPredictionsOfNpy } from '../lib/evaluation/ground-truth.ts';
import { checkHeldOut } from '../lib/evaluation/held-out.ts';
import { checkSameDataset, masksOf } from './inputs.ts';
import { ldsInterval, pairedLdsDifference } from '../lib/evaluation/linear-datamodeling.ts';
import { Rng } from '../lib/random/rng.ts';

export const SELECT_FILE = 'select.json';

export const selectParams = z.strictObject({
  bootstrap: z.number().int().min(0).default(200).describe('resamples of the paired two-way bootstrap of the best minus the runner-up candidate (0: off)'),
  ci: z.number().gt(0).lt(1).default(0.95).describe('coverage of that interval'),
});
export type SelectParams = z.infer<typeof selectParams>;

export interface SelectRecord {
  chosen: number;
  chosenHash: string;
  heldOutGroundTruth: string;
  candidates: { index: number; stageKind: string; hash: string; params: unknown; heldOutLds: number; definedTargets: number }[];
  /** Best minus runner-up held-out LDS, paired (same targets and subsets). */
  runnerUpGap?: { difference: number; low: number; high: number };
}

export const select = defineStage<SelectParams>({
  name: 'select',
  version: '1',
  description: 'Choose the candidate scores with the best LDS on a held-out ground truth and pass them on',
  equation: 'ĉ = argmax_c LDS(τ_c; held-out subsets),  output τ_ĉ',
  params: selectParams,
  inputs: {
    candidates: { kinds: ['scores'], many: true, description: 'the candidate score sets (e.g. trak at several λ), in order; ties go to the first' },
    models: { kinds: ['models'], description: 'the HELD-OUT ground truth: a train stage on subsets disjoint from the evaluation ones' },
    evaluation: { kinds: ['models'], optional: true, description: 'the ground truth the choice will be reported on: checked to share no subset with the held-out one' },
  },
  output: 'scores',
  async run(ctx) {
    const candidates = inputList(ctx.inputs, 'candidates');
    const heldOut = ctx.inputs.models;
    if (candidates.length === 0) throw new Error('select: no candidates (inputs.candidates lists the scores stages to choose from)');
    if (ctx.inputs.evaluation) checkHeldOut(masksOf(heldOut, 'select'), masksOf(ctx.inputs.evaluation, 'select'), 'select');
    const gt = readGroundTruth(heldOut.dir, masksOf(heldOut, 'select').dir, 'select');
    const scored = candidates.map((c, i) => {
      const name = `candidates[${i}]`;
      checkSameDataset(c, name, heldOut, 'models');
      const read = readScores(c.dir, `select: ${name}`);
      checkTrainSize(read, gt, 'select', `${name} (${c.stageKind} ${c.hash.slice(0, 12)})`);
      const truth = gt.truthFor(read.targetIndex);
      const predictions = subsetPredictionsOfNpy(read, gt.masks, gt.nMasks); // in row blocks: one candidate's τ is never whole in memory
      const est = ldsInterval(predictions, truth, read.nTargets, gt.nMasks, { resamples: 0, ci: ctx.params.ci, rng: Rng.from(ctx.seed) });
      ctx.log(`select: ${name} (${c.stageKind} ${c.hash.slice(0, 12)}) held-out LDS ${est.mean.toFixed(4)} over ${est.defined} of ${read.nTargets} targets`);
      return { artifact: c, read, truth, predictions, lds: est.mean, defined: est.defined };
    });
    const undefinedAll = scored.findIndex((s) => s.defined === 0);
    if (undefinedAll >= 0) throw new Error(`select: candidates[${undefinedAll}] has an undefined rank correlation for every target (constant scores?): it cannot be ranked`);

    let chosen = 0;
    for (let i = 1; i < scored.length; i++) if (scored[i].lds > scored[chosen].lds) chosen = i;
    const best = scored[chosen];
    const record: SelectRecord = {
      chosen,
      chosenHash: best.artifact.hash,
      heldOutGroundTruth: heldOut.hash,
      candidates: scored.map((s, index) => ({ index, stageKind: s.artifact.stageKind, hash: s.artifact.hash, params: s.artifact.params, heldOutLds: s.lds, definedTargets: s.defined })),
    };
    const metrics: Metrics = { chosen, heldOutLds: best.lds, candidates: scored.length, heldOutSubsets: gt.nMasks };
    scored.forEach((s, i) => (metrics[`candidate${i}Lds`] = s.lds));

    // How clear the choice is: best − runner-up on the same held-out targets and subsets.
    const runnerUp = scored.map((s, i) => ({ s, i })).filter(({ i }) => i !== chosen).sort((a, b) => b.s.lds - a.s.lds)[0];
    if (runnerUp && sameTargets(best.read.targetIndex, runnerUp.s.read.targetIndex)) {
      const o = { resamples: ctx.params.bootstrap, ci: ctx.params.ci, rng: Rng.from(ctx.seed, 'bootstrap') };
      const d = pairedLdsDifference(best.predictions, runnerUp.s.predictions, best.truth, best.read.nTargets, gt.nMasks, o);
      record.runnerUpGap = { difference: d.difference, low: d.low, high: d.high };
      Object.assign(metrics, { runnerUp: runnerUp.i, runnerUpGap: d.difference, runnerUpGapLow: d.low, runnerUpGapHigh: d.high });
    }

    for (const file of [SCORES.scores, SCORES.targetIndex, SCORES.top, SCORES.meta]) {
      const from = join(best.artifact.dir, file);
      if (existsSync(from)) copyFileSync(from, join(ctx.outDir, file));
    }
    writeFileSync(join(ctx.outDir, SELECT_FILE), JSON.stringify(record, null, 2) + '\n');
    ctx.log(`select: chose candidates[${chosen}] (${best.artifact.stageKind} ${best.artifact.hash.slice(0, 12)}), held-out LDS ${best.lds.toFixed(4)} on ${gt.nMasks} subsets`);
    return { metrics, info: { candidates: record.candidates, runnerUpGap: record.runnerUpGap } };
  },
});

function sameTargets(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
