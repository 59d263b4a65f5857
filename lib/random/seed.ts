/**
 * Where every seed in attrib comes from: sha256 of a list of labels (the experiment seed,
 * a stage hash, a unit index, a purpose such as "init"), each label as its decimal or
 * text form, so a seed depends only on what it is for. A foundation module (no ML, no
 * dependencies): the engine derives stage and unit seeds with it (pipeline/hash.ts), the
 * library its random streams (rng.ts). Changing it changes every result: the values are
 * pinned in tests/engine/hash.test.ts.
 */
import { createHash } from 'node:crypto';

export type Label = number | string | bigint;

/** sha256 of the labels' JSON (as strings): the 32 bytes every seed and stream starts from. */
export function labelDigest(labels: Label[]): Buffer {
  return createHash('sha256').update(JSON.stringify(labels.map(String))).digest();
}

/** A 32-bit seed derived from labels (e.g. `deriveSeed(seed, hash, unit)`). */
export function deriveSeed(...labels: Label[]): number {
  return labelDigest(labels).readUInt32LE(0);
}
