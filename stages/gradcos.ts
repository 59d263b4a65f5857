/**
 * `gradcos`: gradient cosine similarity, on the `features` of linearize:
 *
 *     τ(x)_i = (1/S) Σ_s φ_s(x)ᵀ φ_{s,i} / (‖φ_s(x)‖ ‖φ_{s,i}‖)
 *
 * Insensitive to gradient magnitude, so it ranks by direction only (a zero gradient
 * scores 0). Same params and blocked scoring as `graddot` (graddot.ts).
 */
import { gradientSimilarity } from './graddot.ts';

export const gradcos = gradientSimilarity(
  'gradcos',
  true,
  'Gradient cosine similarity cos(φ(x), φ_i), averaged over models',
  'τ(x)_i = (1/S) Σ_s cos(φ_s(x), φ_{s,i})',
);
