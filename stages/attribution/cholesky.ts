/**
 * Minimal float64 Cholesky inverse of a symmetric positive definite matrix, private to
 * the attribution kinds until stages/linalg lands (then this file goes and callers use
 * the numeric core's blocked Cholesky).
 *
 *     A = L Lᵀ,   A⁻¹ = L⁻ᵀ L⁻¹          (row-major, every inner loop contiguous)
 */

export class NotPositiveDefiniteError extends Error {}

/** Lower Cholesky factor of A ([k, k] row-major). Throws with `what` if A is not SPD. */
export function cholesky(a: Float64Array, k: number, what = 'matrix'): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const li = i * k;
    for (let j = 0; j <= i; j++) {
      const lj = j * k;
      let s = a[li + j];
      for (let p = 0; p < j; p++) s -= l[li + p] * l[lj + p];
      if (i === j) {
        if (!(s > 0)) {
          throw new NotPositiveDefiniteError(`${what} is not positive definite (pivot ${i} = ${s}); increase lambda/damping`);
        }
        l[li + i] = Math.sqrt(s);
      } else {
        l[li + j] = s / l[lj + j];
      }
    }
  }
  return l;
}

/** A⁻¹ for SPD A ([k, k] row-major, float64). */
export function spdInverse(a: Float64Array, k: number, what?: string): Float64Array {
  const l = cholesky(a, k, what);
  // M = L⁻¹ (lower): row i of M = (e_i − Σ_{p<i} L_ip M_p) / L_ii.
  const m = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const mi = i * k;
    for (let p = 0; p < i; p++) {
      const c = l[mi + p];
      if (c === 0) continue;
      const mp = p * k;
      for (let j = 0; j <= p; j++) m[mi + j] -= c * m[mp + j];
    }
    m[mi + i] += 1;
    const d = l[mi + i];
    for (let j = 0; j <= i; j++) m[mi + j] /= d;
  }
  // A⁻¹ = Mᵀ M = Σ_i m_i m_iᵀ (m_i = row i of M, nonzero in 0..i); fill the lower half.
  const inv = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const mi = i * k;
    for (let a2 = 0; a2 <= i; a2++) {
      const c = m[mi + a2];
      if (c === 0) continue;
      const row = a2 * k;
      for (let b = 0; b <= a2; b++) inv[row + b] += c * m[mi + b];
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) inv[j * k + i] = inv[i * k + j];
  return inv;
}
