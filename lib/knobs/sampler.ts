/**
 * θ → mask: the subset distribution q_θ of a knob spec, and the inclusion probability
 * π_i(θ) = P_{S~q_θ}(i ∈ S) it gives every train example (one value per group, since
 * examples of a group are exchangeable):
 *
 *   rates, bernoulli:  i ∈ S independently with probability θ_g       π_g = θ_g
 *   rates, exact:      c_g = round(θ_g·n_g) rows of group g, uniformly  π_g = c_g / n_g
 *   mixture:           c(θ) = mixtureCounts(total, θ, n), c_g rows of group g uniformly,
 *                      π_g = c_g / n_g
 *   no group:          i ∈ S with probability `rest`                     π = rest
 *
 * So E_{S~q_θ}[Σ_{i∈S} τ_i] = Σ_i π_i(θ) τ_i exactly, the identity knob-predict uses.
 */
import type { Rng } from '../random/rng.ts';
import { KnobError, type KnobGroups } from './groups.ts';
import type { KnobsSpec } from './schema.ts';

/**
 * Integer counts c_g summing to `total` with c_g ≈ total·w_g / Σw and c_g ≤ sizes_g:
 * groups whose share exceeds their size are capped and the excess is spread over the
 * others in proportion to their weights (by size when their weights are all 0), then
 * the shares are rounded by largest remainders (ties to the lower index).
 */
export function mixtureCounts(total: number, weights: ArrayLike<number>, sizes: ArrayLike<number>): Int32Array {
  const d = sizes.length;
  let capacity = 0;
  for (let g = 0; g < d; g++) capacity += sizes[g];
  if (total > capacity) throw new KnobError(`knobs: a mixture of ${total} examples needs that many, but the groups hold ${capacity}`);
  const counts = new Int32Array(d);
  const capped = new Uint8Array(d);
  const share = new Float64Array(d);
  let remaining = total;
  for (;;) {
    let sum = 0;
    for (let g = 0; g < d; g++) if (!capped[g]) sum += weights[g];
    const useSizes = !(sum > 0);
    if (useSizes) for (let g = 0; g < d; g++) if (!capped[g]) sum += sizes[g];
    let over = false;
    for (let g = 0; g < d; g++) {
      if (capped[g]) continue;
      share[g] = sum > 0 ? (remaining * (useSizes ? sizes[g] : weights[g])) / sum : 0;
      if (share[g] > sizes[g]) over = true;
    }
    if (!over) break;
    for (let g = 0; g < d; g++) {
      if (!capped[g] && share[g] > sizes[g]) {
        capped[g] = 1;
        counts[g] = sizes[g];
        remaining -= sizes[g];
      }
    }
  }
  let assigned = 0;
  for (let g = 0; g < d; g++) {
    if (capped[g]) continue;
    counts[g] = Math.floor(share[g] + 1e-9);
    assigned += counts[g];
  }
  const order = Array.from({ length: d }, (_, g) => g)
    .filter((g) => !capped[g])
    .sort((a, b) => share[b] - counts[b] - (share[a] - counts[a]) || a - b);
  const leftover = remaining - assigned;
  if (leftover > order.length) throw new KnobError('knobs: internal error: mixture counts do not add up');
  for (let l = 0; l < leftover; l++) counts[order[l]]++;
  return counts;
}

/** Examples drawn from each group under θ (undefined per group for bernoulli rates). */
function groupCounts(spec: KnobsSpec, groups: KnobGroups, theta: ArrayLike<number>): Int32Array | undefined {
  if (spec.mode === 'mixture') return mixtureCounts(spec.total!, theta, groups.sizes);
  if (spec.sampling === 'exact') return Int32Array.from(groups.sizes, (n, g) => Math.min(n, Math.max(0, Math.round(theta[g] * n))));
  return undefined;
}

/** π_g(θ) for every group: the inclusion probability of each of its examples. */
export function groupInclusion(spec: KnobsSpec, groups: KnobGroups, theta: ArrayLike<number>): Float64Array {
  const counts = groupCounts(spec, groups, theta);
  return Float64Array.from(groups.sizes, (n, g) => (counts ? counts[g] / n : theta[g]));
}

/** π_i(θ) for every train example, from the per-group values and the rest rate. */
export function exampleInclusion(groupOf: Int32Array, inclusion: ArrayLike<number>, rest: number): Float64Array {
  return Float64Array.from(groupOf, (g) => (g >= 0 ? inclusion[g] : rest));
}

/** One mask S ~ q_θ: uint8 [nTrain]. */
export function drawKnobMask(spec: KnobsSpec, groups: KnobGroups, theta: ArrayLike<number>, rng: Rng): Uint8Array {
  const n = groups.groupOf.length;
  const mask = new Uint8Array(n);
  const counts = groupCounts(spec, groups, theta);
  groups.members.forEach((rows, g) => {
    const r = rng.split('group', g);
    if (!counts) {
      for (const i of rows) if (r.uniform() < theta[g]) mask[i] = 1;
      return;
    }
    // Partial Fisher-Yates over the group's rows: the first c_g of a random permutation.
    const perm = Int32Array.from(rows);
    for (let l = 0; l < counts[g]; l++) {
      const j = l + r.int(perm.length - l);
      const t = perm[l];
      perm[l] = perm[j];
      perm[j] = t;
      mask[perm[l]] = 1;
    }
  });
  const r = rng.split('rest');
  for (let i = 0; i < n; i++) {
    if (groups.groupOf[i] >= 0) continue;
    if (spec.rest >= 1 || (spec.rest > 0 && r.uniform() < spec.rest)) mask[i] = 1;
  }
  return mask;
}
