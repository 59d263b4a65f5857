/**
 * Seeded, splittable randomness. Every stream derives from a list of labels (the
 * experiment seed, a stage hash, a unit index, a purpose such as "init" or "shuffle")
 * hashed with sha256, so a stream depends only on what it is for, never on scheduling
 * order, thread or machine. Draws are computed in JavaScript doubles from
 * xoroshiro128+ (pure-rand), so the same seed gives the same bits on every backend.
 */
import { createHash } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

type Label = number | string | bigint;

/** A 32-bit seed derived from labels (e.g. `deriveSeed(seed, hash, unit)`). */
export function deriveSeed(...labels: Label[]): number {
  return digest(labels).readUInt32LE(0);
}

function digest(labels: Label[]): Buffer {
  return createHash('sha256').update(JSON.stringify(labels.map(String))).digest();
}

export class Rng {
  private readonly gen: ReturnType<typeof xoroshiro128plusFromState>;
  private spare: number | undefined;

  private constructor(private readonly labels: Label[]) {
    const d = digest(labels);
    // 128 bits of state from the digest; never all zero.
    const state = [d.readInt32LE(0), d.readInt32LE(4), d.readInt32LE(8), d.readInt32LE(12) | 1];
    this.gen = xoroshiro128plusFromState(state);
  }

  /** A stream identified by its labels. */
  static from(...labels: Label[]): Rng {
    return new Rng(labels);
  }

  /** An independent child stream (same labels plus more). */
  split(...labels: Label[]): Rng {
    return new Rng([...this.labels, ...labels]);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spare = v * m;
        return u * m;
      }
    }
  }

  /** ±1 with equal probability. */
  rademacher(): number {
    return this.gen.next() & 1 ? 1 : -1;
  }

  fillNormal<T extends Float32Array | Float64Array>(out: T, scale = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * scale;
    return out;
  }

  fillUniform<T extends Float32Array | Float64Array>(out: T, low = 0, high = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  fillRademacher<T extends Float32Array | Float64Array>(out: T, scale = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.rademacher() * scale;
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
