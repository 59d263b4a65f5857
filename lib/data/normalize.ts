/**
 * Feature normalization, fitted on the train split only and applied to both splits:
 * x' = (x − shift) / scale, per feature for tabular data and per channel for images.
 *
 *   none:        shift 0, scale 1
 *   standardize: shift = mean, scale = std (1 where std = 0)
 *   minmax:      shift = min, scale = max − min (1 where constant), so train lies in [0, 1]
 *   auto:        standardize tabular data; leave images alone (sources give them in [0, 1])
 */
export type NormalizeKind = 'auto' | 'none' | 'standardize' | 'minmax';

export interface Normalization {
  kind: 'none' | 'standardize' | 'minmax';
  /** What shift/scale index: a feature (tabular) or a channel (images, HWC). */
  per: 'feature' | 'channel';
  shift: number[];
  scale: number[];
}

export function fitNormalization(requested: NormalizeKind, x: Float32Array, featureShape: number[], image: boolean): Normalization {
  const kind = requested === 'auto' ? (image ? 'none' : 'standardize') : requested;
  const groups = image ? featureShape[featureShape.length - 1] : featureShape.reduce((a, b) => a * b, 1);
  const per = image ? 'channel' : 'feature';
  if (kind === 'none') return { kind, per, shift: new Array(groups).fill(0), scale: new Array(groups).fill(1) };
  const count = new Float64Array(groups);
  const a = new Float64Array(groups);
  const b = new Float64Array(groups);
  if (kind === 'standardize') {
    for (let i = 0; i < x.length; i++) {
      const g = i % groups;
      count[g]++;
      a[g] += x[i];
    }
    for (let g = 0; g < groups; g++) a[g] /= Math.max(count[g], 1);
    for (let i = 0; i < x.length; i++) {
      const d = x[i] - a[i % groups];
      b[i % groups] += d * d;
    }
    const std = Array.from(b, (s, g) => Math.sqrt(s / Math.max(count[g], 1)));
    return { kind, per, shift: Array.from(a), scale: std.map((s) => (s > 1e-12 ? s : 1)) };
  }
  a.fill(Infinity);
  b.fill(-Infinity);
  for (let i = 0; i < x.length; i++) {
    const g = i % groups;
    if (x[i] < a[g]) a[g] = x[i];
    if (x[i] > b[g]) b[g] = x[i];
  }
  const shift = Array.from(a, (v) => (Number.isFinite(v) ? v : 0));
  return { kind, per, shift, scale: Array.from(b, (hi, g) => (hi - shift[g] > 1e-12 ? hi - shift[g] : 1)) };
}

/** Applies a fitted normalization in place. */
export function applyNormalization(n: Normalization, x: Float32Array): Float32Array {
  if (n.kind === 'none') return x;
  const groups = n.shift.length;
  for (let i = 0; i < x.length; i++) {
    const g = i % groups;
    x[i] = (x[i] - n.shift[g]) / n.scale[g];
  }
  return x;
}
