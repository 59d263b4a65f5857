/**
 * Reading what an LDS needs from the store: a `scores` entry (τ and its targets) and a
 * ground truth (a `models` entry trained on α-subsets, and the `masks` entry it was
 * trained on), checked against each other. Shared by the lds and select kinds, which
 * pass the entries' folders.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MASKS, MODELS, SCORES } from '../artifacts.ts';
import { readNpy } from '../io/npy.ts';
import { marginsPerMask } from './linear-datamodeling.ts';

function expect2d(who: string, name: string, shape: number[]): [number, number] {
  if (shape.length !== 2) throw new Error(`${who}: ${name} should be 2-d, got shape ${JSON.stringify(shape)}`);
  return [shape[0], shape[1]];
}

export interface ReadScores {
  /** τ [nTargets, nTrain] row-major. */
  tau: Float32Array;
  nTargets: number;
  nTrain: number;
  targetIndex: Int32Array;
}

export function readScores(scoresDir: string, who: string): ReadScores {
  const tau = readNpy(join(scoresDir, SCORES.scores));
  const [nTargets, nTrain] = expect2d(who, 'scores.npy', tau.shape);
  const targetIndex = readNpy(join(scoresDir, SCORES.targetIndex)).data as Int32Array;
  if (targetIndex.length !== nTargets) throw new Error(`${who}: target_index.npy has ${targetIndex.length} entries, scores.npy ${nTargets} rows`);
  return { tau: tau.data as Float32Array, nTargets, nTrain, targetIndex };
}

export interface GroundTruth {
  /** 0/1 [nMasks, nTrain]. */
  masks: Uint8Array;
  nMasks: number;
  nTrain: number;
  nTest: number;
  /** Models per mask (n / nMasks; the ground truth's noise level). */
  seedsPerSubset: number;
  seedsMin: number;
  seedsMax: number;
  /** f̄(x_j; S_k): margins averaged over the seeds of each mask, [targets, nMasks]. */
  truthFor(targetIndex: Int32Array): Float64Array;
}

/**
 * What the ground truth measures on each target: the margin f (TRAK's output function,
 * the default) or the negative cross-entropy −ℓ (dattri's LDS target; train writes it as
 * losses_test.npy).
 */
export type LdsTarget = 'margin' | 'loss';

/** The ground truth of the models in `modelsDir`, trained on the masks in `masksDir`. */
export function readGroundTruth(modelsDir: string, masksDir: string, who: string, target: LdsTarget = 'margin'): GroundTruth {
  const masks = readNpy(join(masksDir, MASKS.masks));
  const [nMasks, nTrain] = expect2d(who, 'masks.npy', masks.shape);
  const margins = target === 'loss' ? negativeLosses(modelsDir, who) : readNpy(join(modelsDir, MODELS.marginsTest));
  const [nModels, nTest] = expect2d(who, 'margins_test.npy', margins.shape);
  const maskOf = readNpy(join(modelsDir, MODELS.maskOf)).data as Int32Array;
  if (maskOf.length !== nModels) throw new Error(`${who}: mask_of_model.npy has ${maskOf.length} entries for ${nModels} models`);
  const perMask = (targetIndex: Int32Array) => marginsPerMask(margins.data as Float32Array, nModels, nTest, maskOf, nMasks, targetIndex);
  const { seedsPerMask } = perMask(new Int32Array(0));
  return {
    masks: masks.data as Uint8Array,
    nMasks,
    nTrain,
    nTest,
    seedsPerSubset: nModels / nMasks,
    seedsMin: Math.min(...seedsPerMask),
    seedsMax: Math.max(...seedsPerMask),
    truthFor(targetIndex) {
      const bad = targetIndex.findIndex((t) => t < 0 || t >= nTest);
      if (bad >= 0) throw new Error(`${who}: target ${bad} is test example ${targetIndex[bad]}, but the models have margins for ${nTest} test examples`);
      return perMask(targetIndex).truth;
    },
  };
}

/** −ℓ(x_j; θ_m) for every model and test example, in the layout of margins_test.npy. */
function negativeLosses(modelsDir: string, who: string): ReturnType<typeof readNpy> {
  const path = join(modelsDir, MODELS.lossesTest);
  if (!existsSync(path)) throw new Error(`${who}: target: loss needs ${MODELS.lossesTest} in the ground-truth models (${modelsDir}); they were trained before train wrote losses: re-run that train stage`);
  const losses = readNpy(path);
  const data = losses.data as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = -data[i];
  return losses;
}

/** Refuses scores over another number of train examples than the ground truth's masks. */
export function checkTrainSize(scores: ReadScores, truth: GroundTruth, who: string, name = 'the scores'): void {
  if (scores.nTrain !== truth.nTrain) throw new Error(`${who}: ${name} cover ${scores.nTrain} train examples but the masks ${truth.nTrain}: not the same data set`);
}
