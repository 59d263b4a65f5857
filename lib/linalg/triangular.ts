/**
 * Triangular solves with many right-hand sides, float64:
 *
 *     L X = B      (solveLower: forward substitution)
 *     Lᵀ X = B     (solveLowerTransposed: back substitution with the same L)
 *
 * L is [n, n] lower triangular, B and X are [n, m], all row-major. Recursive blocking
 * (split L in halves; the off-diagonal block is one matrix product, X₂ −= L₂₁X₁) puts
 * all but O(n·m·16) of the n²m flops into the SIMD kernel of gemm.ts. The basic
 * versions are the textbook loops, kept as the reference the tests compare with.
 */
import { gemmSub } from './gemm.ts';
import { theHeap, type Heap } from './wasm/heap.ts';

const BASE = 16;

function split(n: number): number {
  return Math.max(8, (n >> 1) & ~7);
}

/** In place on the heap: X ← L⁻¹X. L at l (leading dimension ldl), X at x (ldx), n × m. */
export function trsmLower(h: Heap, l: number, ldl: number, x: number, ldx: number, n: number, m: number): void {
  if (n <= BASE) {
    const f = h.f64;
    for (let r = 0; r < n; r++) {
      const xr = x + r * ldx;
      const lr = l + r * ldl;
      for (let c = 0; c < r; c++) {
        const v = f[lr + c];
        if (v === 0) continue;
        const xc = x + c * ldx;
        for (let j = 0; j < m; j++) f[xr + j] -= v * f[xc + j];
      }
      const inv = 1 / f[lr + r];
      for (let j = 0; j < m; j++) f[xr + j] *= inv;
    }
    return;
  }
  const n1 = split(n);
  trsmLower(h, l, ldl, x, ldx, n1, m);
  gemmSub(h, x + n1 * ldx, ldx, l + n1 * ldl, ldl, 1, x, ldx, n - n1, m, n1);
  trsmLower(h, l + n1 * ldl + n1, ldl, x + n1 * ldx, ldx, n - n1, m);
}

/** In place on the heap: X ← L⁻ᵀX. */
export function trsmLowerT(h: Heap, l: number, ldl: number, x: number, ldx: number, n: number, m: number): void {
  if (n <= BASE) {
    const f = h.f64;
    for (let r = n - 1; r >= 0; r--) {
      const xr = x + r * ldx;
      for (let c = r + 1; c < n; c++) {
        const v = f[l + c * ldl + r];
        if (v === 0) continue;
        const xc = x + c * ldx;
        for (let j = 0; j < m; j++) f[xr + j] -= v * f[xc + j];
      }
      const inv = 1 / f[l + r * ldl + r];
      for (let j = 0; j < m; j++) f[xr + j] *= inv;
    }
    return;
  }
  const n1 = split(n);
  // [L₁₁ᵀ L₂₁ᵀ; 0 L₂₂ᵀ] [X₁; X₂] = [B₁; B₂]: X₂ first, then B₁ −= L₂₁ᵀX₂.
  trsmLowerT(h, l + n1 * ldl + n1, ldl, x + n1 * ldx, ldx, n - n1, m);
  gemmSub(h, x, ldx, l + n1 * ldl, 1, ldl, x + n1 * ldx, ldx, n1, m, n - n1);
  trsmLowerT(h, l, ldl, x, ldx, n1, m);
}

function check(l: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number): void {
  if (l.length !== n * n) throw new Error(`triangular solve: L has ${l.length} values, expected ${n}×${n}`);
  if (b.length !== n * m) throw new Error(`triangular solve: B has ${b.length} values, expected ${n}×${m}`);
}

function onHeap(l: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number, solve: typeof trsmLower): Float64Array {
  check(l, n, b, m);
  const h = theHeap();
  const mark = h.mark();
  try {
    const lp = h.put(l);
    const xp = h.put(b);
    solve(h, lp, n, xp, m, n, m);
    return h.f64.slice(xp, xp + n * m);
  } finally {
    h.release(mark);
  }
}

/** X = L⁻¹B for lower-triangular L [n, n] and B [n, m] (row-major). Reads only L's lower triangle. */
export function solveLower(l: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number): Float64Array {
  return onHeap(l, n, b, m, trsmLower);
}

/** X = L⁻ᵀB for lower-triangular L [n, n] and B [n, m] (row-major). */
export function solveLowerTransposed(l: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number): Float64Array {
  return onHeap(l, n, b, m, trsmLowerT);
}

/** Reference: forward substitution, one row at a time. */
export function solveLowerBasic(l: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number): Float64Array {
  check(l, n, b, m);
  const x = Float64Array.from(b);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < r; c++) for (let j = 0; j < m; j++) x[r * m + j] -= l[r * n + c] * x[c * m + j];
    for (let j = 0; j < m; j++) x[r * m + j] /= l[r * n + r];
  }
  return x;
}

/** Reference: back substitution with Lᵀ. */
export function solveLowerTransposedBasic(l: ArrayLike<number>, n: number, b: ArrayLike<number>, m: number): Float64Array {
  check(l, n, b, m);
  const x = Float64Array.from(b);
  for (let r = n - 1; r >= 0; r--) {
    for (let c = r + 1; c < n; c++) for (let j = 0; j < m; j++) x[r * m + j] -= l[c * n + r] * x[c * m + j];
    for (let j = 0; j < m; j++) x[r * m + j] /= l[r * n + r];
  }
  return x;
}
