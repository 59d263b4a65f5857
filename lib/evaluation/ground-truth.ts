/**
 * Reading what an LDS needs from the store: a `scores` entry (τ and its targets) and a
 * ground truth (a `models` entry trained on α-subsets, and the `masks` entry it was
 * trained on), checked against each other. Shared by the lds and select kinds, which
 * pass the entries' folders. scores.npy is read in row blocks, never whole: the memory
 * of an LDS is O(block · nTrain + nTargets · nSubsets).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MASKS, MODELS, SCORES } from '../artifacts.ts';
import { readNpy, readNpyHeader, readNpyRows, type NpyHeader } from '../io/npy.ts';
import { marginsPerMask, subsetPredictions } from './linear-datamodeling.ts';

function expect2d(who: string, name: string, shape: number[]): [number, number] {
  if (shape.length !== 2) throw new Error(`${who}: ${name} should be 2-d, got shape ${JSON.stringify(shape)}`);
  return [shape[0], shape[1]];
}

/**
 * A scores entry, opened: the header of scores.npy and the targets, never the whole
 * matrix (at 10,000 targets × 60,000 train examples it is 2.4 GB). Rows are read on
 * demand (readScoreRows) or in row blocks (forEachScoresBlock, subsetPredictionsOfNpy).
 */
export interface ReadScores {
  /** Path of scores.npy: τ [nTargets, nTrain] row-major, float32 (or float64). */
  path: string;
  header: NpyHeader;
  nTargets: number;
  nTrain: number;
  targetIndex: Int32Array;
}

export function readScores(scoresDir: string, who: string): ReadScores {
  const scores = openScoresFile(join(scoresDir, SCORES.scores), who);
  const targetIndex = readNpy(join(scoresDir, SCORES.targetIndex)).data as Int32Array;
  if (targetIndex.length !== scores.nTargets) throw new Error(`${who}: target_index.npy has ${targetIndex.length} entries, scores.npy ${scores.nTargets} rows`);
  return { ...scores, targetIndex };
}

/** Rows [start, end) of τ, [end − start, nTrain]: for callers that need a few targets. */
export function readScoreRows(scores: ReadScores, start: number, end: number): Float32Array | Float64Array {
  return readNpyRows(scores.path, start, end, scores.header).data as Float32Array | Float64Array;
}

/** Floats in one row block of scores.npy (64 MB of float32). */
export const SCORES_BLOCK_FLOATS = 1 << 24;

export interface ScoresBlockOptions {
  /**
   * Rows per block; default: as many as keep a block ≤ SCORES_BLOCK_FLOATS floats (at
   * least one row). ATTRIB_SCORES_BLOCK_ROWS sets it too (a test seam, so stage tests run
   * on several blocks).
   */
  blockRows?: number;
  /** Called with each block's row range before it is read (a test seam). */
  onBlock?: (start: number, end: number) => void;
}

export function scoresBlockRows(nTrain: number, opts: ScoresBlockOptions = {}): number {
  const env = process.env.ATTRIB_SCORES_BLOCK_ROWS;
  if (opts.blockRows === undefined && !env) return Math.max(1, Math.floor(SCORES_BLOCK_FLOATS / Math.max(1, nTrain)));
  const rows = opts.blockRows ?? Number(env);
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`scores block: ${opts.blockRows !== undefined ? 'blockRows' : 'ATTRIB_SCORES_BLOCK_ROWS'} must be a positive integer, got ${opts.blockRows ?? env}`);
  return rows;
}

/** Visits τ in row blocks, in order: block holds rows [start, end), [end − start, nTrain]. */
export function forEachScoresBlock(scores: ReadScores, visit: (start: number, end: number, block: Float32Array | Float64Array) => void, opts: ScoresBlockOptions = {}): void {
  const rows = scoresBlockRows(scores.nTrain, opts);
  for (let start = 0; start < scores.nTargets; start += rows) {
    const end = Math.min(scores.nTargets, start + rows);
    opts.onBlock?.(start, end);
    visit(start, end, readScoreRows(scores, start, end));
  }
}

/**
 * ĝ[j, k] = Σ_{i∈S_k} τ(x_j)_i as [nTargets, nSubsets] float64, read from scores.npy in
 * row blocks: exactly subsetPredictions of the whole matrix (each sum runs over the same
 * members in the same order), in O(block · nTrain + nTargets · nSubsets) memory.
 */
export function subsetPredictionsOfNpy(scores: string | ReadScores, masks: Uint8Array, nSubsets: number, opts: ScoresBlockOptions = {}): Float64Array {
  const s = typeof scores === 'string' ? openScoresFile(scores) : scores;
  if (masks.length !== nSubsets * s.nTrain) throw new Error(`masks: ${masks.length} values is not ${nSubsets}×${s.nTrain}`);
  const out = new Float64Array(s.nTargets * nSubsets);
  forEachScoresBlock(s, (start, end, block) => out.set(subsetPredictions(block, end - start, s.nTrain, masks, nSubsets), start * nSubsets), opts);
  return out;
}

/** scores.npy alone, its header checked; targets 0..nTargets−1 until target_index.npy says otherwise. */
function openScoresFile(path: string, who = path): ReadScores {
  const header = readNpyHeader(path);
  const [nTargets, nTrain] = expect2d(who, 'scores.npy', header.shape);
  if (header.dtype !== 'float32' && header.dtype !== 'float64') throw new Error(`${who}: ${path} holds ${header.dtype} values; scores are float32 (or float64)`);
  return { path, header, nTargets, nTrain, targetIndex: Int32Array.from({ length: nTargets }, (_, j) => j) };
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
