/**
 * Priors over knob settings θ ∈ R^d, drawn in JavaScript doubles from a seeded Rng:
 *
 *   uniform:   θ_g = low_g + (high_g − low_g)·U,  U ~ U[0, 1)  independently
 *   dirichlet: θ_g = G_g / Σ_h G_h,  G_g ~ Gamma(c_g, 1)   (a point on the simplex)
 *
 * Gamma(a, 1) by Marsaglia & Tsang (2000): for a ≥ 1, d = a − 1/3, c = 1/√(9d),
 * x ~ N(0,1), v = (1 + c x)³, accept d·v when log U < x²/2 + d − d v + d log v; for
 * a < 1, Gamma(a + 1)·U^{1/a}.
 */
import type { Rng } from '../random/rng.ts';
import { KnobError } from './groups.ts';
import type { PriorSpec } from './schema.ts';

/** A per-knob vector from a scalar or a list of length d. */
export function perKnob(value: number | number[], d: number, what: string): Float64Array {
  if (typeof value === 'number') return new Float64Array(d).fill(value);
  if (value.length !== d) throw new KnobError(`knobs: prior ${what} has ${value.length} values for ${d} knobs`);
  return Float64Array.from(value);
}

/** One Gamma(shape, 1) variate. */
export function gamma(rng: Rng, shape: number): number {
  if (shape < 1) {
    const u = rng.uniform();
    return gamma(rng, shape + 1) * Math.pow(u > 0 ? u : Number.MIN_VALUE, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Checked bounds / concentrations of a prior for d knobs. */
export function checkPrior(prior: PriorSpec, d: number): void {
  if (prior.kind === 'uniform') {
    const low = perKnob(prior.low, d, 'low');
    const high = perKnob(prior.high, d, 'high');
    for (let g = 0; g < d; g++) if (low[g] > high[g]) throw new KnobError(`knobs: prior low ${low[g]} is above high ${high[g]} for knob ${g}`);
  } else {
    perKnob(prior.concentration, d, 'concentration');
  }
}

/** θ ~ prior, as float64 [d]. */
export function sampleTheta(prior: PriorSpec, d: number, rng: Rng): Float64Array {
  const theta = new Float64Array(d);
  if (prior.kind === 'uniform') {
    const low = perKnob(prior.low, d, 'low');
    const high = perKnob(prior.high, d, 'high');
    for (let g = 0; g < d; g++) theta[g] = low[g] + (high[g] - low[g]) * rng.uniform();
    return theta;
  }
  const c = perKnob(prior.concentration, d, 'concentration');
  let total = 0;
  for (let g = 0; g < d; g++) total += theta[g] = gamma(rng, c[g]);
  if (!(total > 0)) {
    // Every gamma underflowed (tiny concentrations): put the mass on one knob at random.
    theta.fill(0)[rng.int(d)] = 1;
    return theta;
  }
  for (let g = 0; g < d; g++) theta[g] /= total;
  return theta;
}
