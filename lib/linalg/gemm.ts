/**
 * C ← C − A·B in float64 on the wasm heap: the one product every blocked routine here
 * (Cholesky, triangular solves, matmul64) is built on.
 *
 *     C[i, j] −= Σ_{m<K} A[a + i·sai + m·sam] · B[b + m·ldb + j]
 *
 * Blocking: K in panels of KC and N in panels of NC so that one KC × NC panel of B
 * (≤ 1 MiB) stays in L2 while the SIMD kernel sweeps 4×4 tiles of C; the ≤ 3 leftover
 * rows and columns run in plain JS.
 */
import { theHeap, type Heap } from './wasm/heap.ts';

const KC = 128;
const NC = 1024;

export function gemmSub(
  h: Heap,
  c: number, ldc: number,
  a: number, sai: number, sam: number,
  b: number, ldb: number,
  M: number, N: number, K: number,
): void {
  if (M <= 0 || N <= 0 || K <= 0) return;
  const M4 = M & ~3;
  const N4 = N & ~3;
  if (M4 > 0 && N4 > 0) {
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0);
      for (let j0 = 0; j0 < N4; j0 += NC) {
        const nc = Math.min(NC, N4 - j0);
        h.kernels.gemm4(c + j0, ldc, a + k0 * sam, sai, sam, b + k0 * ldb + j0, ldb, M4, nc, kc);
      }
    }
  }
  const f = h.f64;
  // Leftover columns (all rows), then leftover rows (the kernel's columns).
  if (N4 < N) {
    for (let i = 0; i < M; i++) {
      const ci = c + i * ldc;
      const ai = a + i * sai;
      for (let j = N4; j < N; j++) {
        let s = 0;
        for (let m = 0; m < K; m++) s += f[ai + m * sam] * f[b + m * ldb + j];
        f[ci + j] -= s;
      }
    }
  }
  for (let i = M4; i < M; i++) {
    const ci = c + i * ldc;
    const ai = a + i * sai;
    for (let m = 0; m < K; m++) {
      const x = f[ai + m * sam];
      if (x === 0) continue;
      const bm = b + m * ldb;
      for (let j = 0; j < N4; j++) f[ci + j] -= x * f[bm + j];
    }
  }
}

/** C = A·B in float64 for row-major A [M, K] and B [K, N] (the SIMD kernel on a copy). */
export function matmul64(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  if (a.length !== M * K || b.length !== K * N) throw new Error(`matmul64: shapes [${M}, ${K}]·[${K}, ${N}] do not match ${a.length} and ${b.length} values`);
  const h = theHeap();
  const mark = h.mark();
  try {
    const ap = h.put(a);
    const bp = h.put(b);
    const cp = h.alloc(M * N);
    h.f64.fill(0, cp, cp + M * N);
    gemmSub(h, cp, N, ap, K, 1, bp, N, M, N, K);
    // C = 0 − A·B.
    const c = h.f64.slice(cp, cp + M * N);
    for (let i = 0; i < c.length; i++) c[i] = -c[i];
    return c;
  } finally {
    h.release(mark);
  }
}
