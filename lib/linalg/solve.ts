/**
 * Symmetric positive definite solves, float64, through one Cholesky factorization:
 *
 *     A X = B   ⇔   L Y = B,  Lᵀ X = Y          (A = L Lᵀ)
 *
 * and the ridge systems attribution needs (TRAK, docs/design.md "The math"):
 *
 *     X = (G + λI)⁻¹ B,    λ absolute, or {relative: r} → λ = r · mean diag(G)
 *
 * A relative λ follows the scale of the features, which is why a sweep over it is
 * comparable across projectors and dims (on MNIST the best was 0.05–0.2 · mean diag).
 * Prefer ridgeSolve with the right-hand sides you need (e.g. the targets' φ) over an
 * explicit inverse: it is the same factorization and a third of the flops.
 */
import { factorOnHeap, type CholeskyOptions } from './cholesky.ts';
import { trsmLower, trsmLowerT } from './triangular.ts';
import { theHeap } from './wasm/heap.ts';

export type LambdaSpec = number | { relative: number };

export interface RidgeResult {
  /** (G + λI)⁻¹ B, [n, m] row-major (or the inverse, [n, n]). */
  x: Float64Array;
  /** The absolute λ used. */
  lambda: number;
  /** mean diag(G): what a relative λ multiplies. */
  meanDiag: number;
}

export function meanDiagonal(g: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += g[i * n + i];
  return n > 0 ? s / n : 0;
}

/** λ from its spec: a number is absolute; {relative: r} is r · mean diag(G). */
export function resolveLambda(spec: LambdaSpec, meanDiag: number): number {
  const lambda = typeof spec === 'number' ? spec : spec.relative * meanDiag;
  if (!Number.isFinite(lambda) || lambda < 0) throw new Error(`lambda must be a finite number ≥ 0, got ${JSON.stringify(spec)} (→ ${lambda})`);
  return lambda;
}

/** X = A⁻¹B for SPD A [n, n] and B [n, m] (row-major; A read from its lower triangle). */
export function spdSolve(a: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number, opts: CholeskyOptions = {}): Float64Array {
  return solveShifted(a, n, b, m, 0, opts);
}

/** A⁻¹ for SPD A [n, n]. */
export function spdInverse(a: ArrayLike<number>, n: number, opts: CholeskyOptions = {}): Float64Array {
  return solveShifted(a, n, identity(n), n, 0, opts);
}

/** (G + λI)⁻¹ B, with λ absolute or relative to mean diag(G). */
export function ridgeSolve(g: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number, lambda: LambdaSpec, opts: CholeskyOptions = {}): RidgeResult {
  const meanDiag = meanDiagonal(g, n);
  const lam = resolveLambda(lambda, meanDiag);
  const hint = opts.hint ?? `; λ = ${short(lam)} (mean diag ${short(meanDiag)}): increase lambda`;
  const x = solveShifted(g, n, b, m, lam, { what: opts.what ?? 'G + λI', hint });
  return { x, lambda: lam, meanDiag };
}

/** (G + λI)⁻¹. */
export function ridgeInverse(g: ArrayLike<number>, n: number, lambda: LambdaSpec, opts: CholeskyOptions = {}): RidgeResult {
  return ridgeSolve(g, n, identity(n), n, lambda, opts);
}

function short(x: number): string {
  return x === 0 ? '0' : String(Number(x.toPrecision(4)));
}

function identity(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

function solveShifted(a: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number, shift: number, opts: CholeskyOptions): Float64Array {
  if (a.length !== n * n) throw new Error(`solve: A has ${a.length} values, expected ${n}×${n}`);
  if (b.length !== n * m) throw new Error(`solve: B has ${b.length} values, expected ${n}×${m}`);
  const h = theHeap();
  const mark = h.mark();
  try {
    const ap = h.put(a);
    const xp = h.put(b);
    if (shift !== 0) for (let i = 0; i < n; i++) h.f64[ap + i * n + i] += shift;
    factorOnHeap(h, ap, n, opts);
    trsmLower(h, ap, n, xp, m, n, m);
    trsmLowerT(h, ap, n, xp, m, n, m);
    return h.f64.slice(xp, xp + n * m);
  } finally {
    h.release(mark);
  }
}
