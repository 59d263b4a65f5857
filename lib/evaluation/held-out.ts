/**
 * The held-out contract of a selection (the select kind): the ground truth a choice is
 * made on must not be the ground truth it is reported on. Two ground truths are
 * "the same subsets" when they are trained on one subsets stage, or when any subset
 * (mask row) of one is also a subset of the other (e.g. the same mask seed). Random
 * α-subsets always share train examples; that is fine, sharing whole subsets is not.
 */
import { join } from 'node:path';
import { MASKS } from '../artifacts.ts';
import { readNpy } from '../io/npy.ts';

/** A `masks` store entry: its hash and folder. */
export interface MasksEntry {
  hash: string;
  dir: string;
}

/** Throws when the held-out and the evaluation ground truths (their masks entries) share subsets. */
export function checkHeldOut(a: MasksEntry, b: MasksEntry, who: string): void {
  const fix = 'draw the held-out subsets with another mask seed (subsets params.seed)';
  if (a.hash === b.hash) {
    throw new Error(`${who}: the held-out ground truth and the evaluation ground truth are trained on the same subsets stage (${a.hash.slice(0, 12)}): a choice made on them is not held out; ${fix}`);
  }
  const ma = readNpy(join(a.dir, MASKS.masks));
  const mb = readNpy(join(b.dir, MASKS.masks));
  const n = ma.shape[1];
  if (mb.shape[1] !== n) return; // different data sets: checkSameDataset reports those
  const rows = (m: { data: ArrayLike<number> }, count: number) => Array.from({ length: count }, (_, k) => Array.from((m.data as Uint8Array).subarray(k * n, (k + 1) * n)).join(''));
  const evaluationRows = new Set(rows(mb, mb.shape[0]));
  const shared = rows(ma, ma.shape[0]).filter((r) => evaluationRows.has(r)).length;
  if (shared > 0) {
    throw new Error(`${who}: ${shared} of the ${ma.shape[0]} held-out subsets are also evaluation subsets (the same masks): a choice made on them is not held out; ${fix}`);
  }
}
