/**
 * Paired LDS differences between two finished lds store entries: "A − B = d [lo, hi]".
 * Both must be scored on the same ground truth (lds.json groundTruth) and the same
 * targets; the interval is the two-way paired bootstrap of linear-datamodeling.ts on
 * the predictions and truth each entry keeps (lds v2). Used by `attrib compare` and the
 * report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LDS } from '../artifacts.ts';
import { readNpy } from '../io/npy.ts';
import { Rng } from '../random/rng.ts';
import { pairedLdsDifference, type PairedDifference } from './linear-datamodeling.ts';

/** The bootstrap of the paired differences `attrib compare` and the report show. */
export const PAIRED = { resamples: 500, ci: 0.95 };

export interface PairedResult extends PairedDifference {
  ci: number;
  resamples: number;
}

export type Paired = { ok: true; result: PairedResult } | { ok: false; reason: string };

interface LdsMeta {
  groundTruth?: string;
}

/** A − B for the lds entries in dirA and dirB, or why they cannot be paired. */
export function pairedLdsEntries(dirA: string, dirB: string, opts: { resamples: number; ci: number }): Paired {
  const meta = (dir: string) => JSON.parse(readFileSync(join(dir, LDS.meta), 'utf8')) as LdsMeta;
  const a = meta(dirA);
  const b = meta(dirB);
  if (!a.groundTruth || !b.groundTruth || !existsSync(join(dirA, LDS.predictions)) || !existsSync(join(dirB, LDS.predictions))) {
    return { ok: false, reason: 'an lds entry from before lds v2 keeps no predictions: rerun it' };
  }
  if (a.groundTruth !== b.groundTruth) return { ok: false, reason: 'scored on different ground truths: a paired difference needs the same one' };
  const ta = readNpy(join(dirA, LDS.targetIndex)).data;
  const tb = readNpy(join(dirB, LDS.targetIndex)).data;
  if (ta.length !== tb.length || ta.some((v, i) => v !== tb[i])) return { ok: false, reason: 'different targets: a paired difference needs the same ones' };
  const pa = readNpy(join(dirA, LDS.predictions));
  const pb = readNpy(join(dirB, LDS.predictions));
  const truth = readNpy(join(dirA, LDS.truth)).data as Float64Array;
  const [nTargets, nSubsets] = pa.shape;
  const rng = Rng.from('paired-lds', basename(dirA), basename(dirB));
  const d = pairedLdsDifference(pa.data as Float64Array, pb.data as Float64Array, truth, nTargets, nSubsets, { resamples: opts.resamples, ci: opts.ci, rng });
  return { ok: true, result: { ...d, ci: opts.ci, resamples: opts.resamples } };
}

const f3 = (v: number) => (Number.isNaN(v) ? 'NaN' : v.toFixed(3));

/** "A − B = 0.031 [0.012, 0.050]" (the interval's coverage and targets in a note). */
export function formatPaired(nameA: string, nameB: string, r: PairedResult): string {
  return `${nameA} − ${nameB} = ${f3(r.difference)} [${f3(r.low)}, ${f3(r.high)}]`;
}
