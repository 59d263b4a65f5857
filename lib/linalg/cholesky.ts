/**
 * Cholesky factorization A = L Lᵀ of a symmetric positive definite A, float64.
 *
 * Recursive blocked (Gustavson 1997): with A = [A₁₁ ·; A₂₁ A₂₂],
 *     L₁₁ = chol(A₁₁),   L₂₁ᵀ = L₁₁⁻¹ A₂₁ᵀ,   L₂₂ = chol(A₂₂ − L₂₁ L₂₁ᵀ)
 * The solve runs as a many-right-hand-side triangular solve on the transposed panel
 * (whose result is exactly the Lᵀ panel the update needs), and the symmetric update
 * touches only the lower triangle; both are products in the SIMD kernel of gemm.ts, so
 * almost all n³/3 flops run there (2048 × 2048 in well under a second on one core).
 *
 * A matrix that is not positive definite (a pivot ≤ n·ε·max diag, or NaN) throws
 * NotPositiveDefiniteError naming the pivot; TRAK's Φᵀ Φ with k ≥ n and λ = 0 is the
 * usual way to get one (add λ, see solve.ts).
 */
import { gemmSub } from './gemm.ts';
import { trsmLower } from './triangular.ts';
import { theHeap, type Heap } from './wasm/heap.ts';

export class NotPositiveDefiniteError extends Error {
  override name = 'NotPositiveDefiniteError';
  constructor(
    /** Row of the failed pivot (0-based). */
    readonly pivot: number,
    /** The pivot's value (≤ 0, or NaN). */
    readonly value: number,
    what = 'matrix',
    hint = '',
  ) {
    super(`${what} is not positive definite (pivot ${pivot} = ${Number(value.toPrecision(6))})${hint}`);
  }
}

const BASE = 32;
/** Rows per tile of the symmetric update (columns run up to the tile's diagonal). */
const SYRK_ROWS = 64;

class Failed {
  constructor(readonly pivot: number, readonly value: number) {}
}

function potf2(f: Float64Array, a: number, lda: number, n: number, offset: number, tol: number): void {
  for (let j = 0; j < n; j++) {
    const rj = a + j * lda;
    for (let i = j; i < n; i++) {
      const ri = a + i * lda;
      let s = f[ri + j];
      for (let m = 0; m < j; m++) s -= f[ri + m] * f[rj + m];
      if (i === j) {
        if (!(s > tol)) throw new Failed(offset + j, s);
        f[rj + j] = Math.sqrt(s);
      } else {
        f[ri + j] = s / f[rj + j];
      }
    }
  }
}

/** In place on the heap: the lower triangle of A (n × n at a, leading dimension lda) becomes L. */
export function potrf(h: Heap, a: number, lda: number, n: number, offset = 0, tol = 0): void {
  if (n <= BASE) {
    potf2(h.f64, a, lda, n, offset, tol);
    return;
  }
  const n1 = Math.max(8, (n >> 1) & ~7);
  const m = n - n1;
  potrf(h, a, lda, n1, offset, tol);
  const mark = h.mark();
  const t = h.alloc(n1 * m);
  let f = h.f64;
  const a21 = a + n1 * lda;
  for (let r = 0; r < m; r++) for (let c = 0; c < n1; c++) f[t + c * m + r] = f[a21 + r * lda + c];
  trsmLower(h, a, lda, t, m, n1, m); // t = L₁₁⁻¹ A₂₁ᵀ = L₂₁ᵀ
  f = h.f64;
  for (let r = 0; r < m; r++) for (let c = 0; c < n1; c++) f[a21 + r * lda + c] = f[t + c * m + r];
  // A₂₂ −= L₂₁ L₂₁ᵀ, lower triangle, by row tiles.
  const a22 = a21 + n1;
  for (let r0 = 0; r0 < m; r0 += SYRK_ROWS) {
    const r1 = Math.min(m, r0 + SYRK_ROWS);
    gemmSub(h, a22 + r0 * lda, lda, a21 + r0 * lda, lda, 1, t, m, r1 - r0, r1, n1);
  }
  h.release(mark);
  potrf(h, a22, lda, m, offset + n1, tol);
}

export interface CholeskyOptions {
  /** What the matrix is, for the error message (e.g. "ΦᵀΦ + λI of model 3"). */
  what?: string;
  /** Appended to the not-positive-definite message (e.g. "; increase lambda"). */
  hint?: string;
}

function checkSquare(a: ArrayLike<number>, n: number): void {
  if (a.length !== n * n) throw new Error(`cholesky: ${a.length} values is not ${n}×${n}`);
}

/**
 * Lower Cholesky factor L of SPD A ([n, n] row-major, read from its lower triangle),
 * zeros above the diagonal. Throws NotPositiveDefiniteError naming the pivot.
 */
export function cholesky(a: ArrayLike<number>, n: number, opts: CholeskyOptions = {}): Float64Array {
  checkSquare(a, n);
  const h = theHeap();
  const mark = h.mark();
  try {
    const p = h.put(a);
    factorOnHeap(h, p, n, opts);
    const l = h.f64.slice(p, p + n * n);
    for (let i = 0; i < n; i++) l.fill(0, i * n + i + 1, (i + 1) * n);
    return l;
  } finally {
    h.release(mark);
  }
}

/**
 * potrf that turns a failed pivot into NotPositiveDefiniteError. A pivot counts as failed
 * when it is ≤ n·ε·max diag(A) (not just ≤ 0): a singular matrix such as XᵀX with more
 * columns than rows otherwise passes with pivots of rounding size and a garbage solve.
 */
export function factorOnHeap(h: Heap, p: number, n: number, opts: CholeskyOptions = {}): void {
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(h.f64[p + i * n + i]));
  try {
    potrf(h, p, n, n, 0, n * Number.EPSILON * maxDiag);
  } catch (e) {
    if (e instanceof Failed) throw new NotPositiveDefiniteError(e.pivot, e.value, opts.what, opts.hint);
    throw e;
  }
}

/** Reference: the unblocked row-by-row (Cholesky–Banachiewicz) algorithm in plain JS. */
export function choleskyBasic(a: ArrayLike<number>, n: number, opts: CholeskyOptions = {}): Float64Array {
  checkSquare(a, n);
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let m = 0; m < j; m++) s -= l[i * n + m] * l[j * n + m];
      if (i === j) {
        if (!(s > 0)) throw new NotPositiveDefiniteError(i, s, opts.what, opts.hint); // no tolerance: the plain textbook test
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}
