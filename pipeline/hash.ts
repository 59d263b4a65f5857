/**
 * What goes into a stage instance's hash, in a fixed order: kind, kind version,
 * resolved params, the hashes of its inputs and the seed in force. The experiment name
 * and the stage name are deliberately absent, so two experiments (or two sweep points)
 * that declare the same upstream stage share its store entry.
 */
import { createHash } from 'node:crypto';
import { deriveSeed as seedFromLabels } from '../lib/random/seed.ts';
import type { StageHash } from './registry.ts';

/** JSON with sorted object keys and no whitespace: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`cannot hash the number ${value}`);
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
      throw new Error(`cannot hash a ${typeof value}`);
    }
    return JSON.stringify(value ?? null);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface HashInput {
  kind: string;
  version: string;
  /** Params after the kind's schema applied its defaults. */
  params: unknown;
  /** Input name -> upstream hash. */
  inputs: Record<string, StageHash>;
  /** The seed in force: the stage's own `seed:` or the experiment's. */
  seed: number;
  /** The kind's fingerprint of what its params point to (file contents); absent for most kinds. */
  content?: unknown;
}

export function stageHash(h: HashInput): StageHash {
  const fields: Record<string, unknown> = { kind: h.kind, version: h.version, params: h.params, inputs: h.inputs, seed: h.seed };
  if (h.content !== undefined) fields.content = h.content;
  return sha256(canonicalJson(fields)) as StageHash;
}

const HASH = /^[0-9a-f]{64}$/;
export function isStageHash(text: string): text is StageHash {
  return HASH.test(text);
}

/**
 * The 32-bit seed a stage (or one of its units) sees: depends on the seed in force, the
 * stage hash and the unit index only, so results do not depend on order, parallelism
 * or the machine that ran a unit. The derivation is the library's (lib/random/seed.ts).
 */
export function deriveSeed(seed: number, hash: StageHash, index?: number): number {
  return index === undefined ? seedFromLabels(seed, hash) : seedFromLabels(seed, hash, index);
}
