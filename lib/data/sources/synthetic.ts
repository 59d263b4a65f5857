/**
 * `synthetic`: a seeded data set of any size and dimension, made in JavaScript doubles
 * from its own seed (not the experiment's), so it is the same everywhere.
 *
 *   blobs:   centers μ_k ~ N(0, separation² I); x = μ_y + N(0, I); y uniform.
 *   teacher: x ~ N(0, I); a random linear teacher W ~ N(0, separation² / dim);
 *            y ~ softmax(x W / temperature) (argmax when temperature = 0).
 *
 * One pool of `n` examples (default: exactly the train + test the dataset asks for).
 */
import { z } from 'zod';
import { Rng } from '../../random/rng.ts';
import { DataSourceError, type DataSource, type LoadedSource, type SourceRequest } from '../source.ts';

export const syntheticOptions = z.strictObject({
  kind: z.literal('synthetic'),
  generator: z.enum(['blobs', 'teacher']).default('blobs').describe('blobs: gaussian clusters, one per class; teacher: labels from a random linear teacher'),
  n: z.number().int().positive().optional().describe('pool size (default: train + test)'),
  dim: z.number().int().positive().default(10).describe('features per example'),
  classes: z.number().int().min(2).default(3).describe('number of classes'),
  separation: z.number().nonnegative().default(2).describe('blobs: spread of the centers; teacher: scale of its weights'),
  temperature: z.number().nonnegative().default(1).describe('teacher only: label noise (0 = deterministic labels)'),
  seed: z.number().int().default(0).describe('seed of the data (not the experiment seed): the same examples everywhere'),
});

type SyntheticOptions = z.infer<typeof syntheticOptions>;

function size(o: SyntheticOptions, request: SourceRequest): number {
  const n = o.n ?? (request.train ?? 0) + (request.test ?? 0);
  if (n <= 0) throw new DataSourceError('source synthetic: give n, or train and test sizes');
  return n;
}

export function makeSynthetic(o: SyntheticOptions, n: number): LoadedSource {
  const { dim, classes } = o;
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  const rng = Rng.from('synthetic', o.generator, o.seed);
  if (o.generator === 'blobs') {
    const centers = rng.split('centers').fillNormal(new Float64Array(classes * dim), o.separation);
    const draw = rng.split('examples');
    for (let i = 0; i < n; i++) {
      const label = draw.int(classes);
      y[i] = label;
      for (let j = 0; j < dim; j++) x[i * dim + j] = centers[label * dim + j] + draw.normal();
    }
  } else {
    const w = rng.split('teacher').fillNormal(new Float64Array(dim * classes), o.separation / Math.sqrt(dim));
    const draw = rng.split('examples');
    const logits = new Float64Array(classes);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) x[i * dim + j] = draw.normal();
      logits.fill(0);
      for (let j = 0; j < dim; j++) for (let k = 0; k < classes; k++) logits[k] += x[i * dim + j] * w[j * classes + k];
      const u = draw.uniform();
      if (o.temperature === 0) {
        let best = 0;
        for (let k = 1; k < classes; k++) if (logits[k] > logits[best]) best = k;
        y[i] = best;
        continue;
      }
      let max = -Infinity;
      for (let k = 0; k < classes; k++) max = Math.max(max, logits[k] / o.temperature);
      let total = 0;
      for (let k = 0; k < classes; k++) total += Math.exp(logits[k] / o.temperature - max);
      let acc = 0;
      let label = classes - 1;
      for (let k = 0; k < classes; k++) {
        acc += Math.exp(logits[k] / o.temperature - max) / total;
        if (u < acc) {
          label = k;
          break;
        }
      }
      y[i] = label;
    }
  }
  return {
    featureShape: [dim],
    classes,
    featureNames: Array.from({ length: dim }, (_, j) => `x${j}`),
    image: false,
    pool: { x, y, n },
  };
}

export const synthetic: DataSource<SyntheticOptions> = {
  name: 'synthetic',
  description: 'seeded gaussian blobs or a random linear teacher, any size and dimension',
  options: syntheticOptions,
  load: (o, request) => makeSynthetic(o, size(o, request)),
  cacheKey: (o, request) => JSON.stringify([o, size(o, request)]),
};
