/**
 * A stage kind plugin: an attribution method of your own, scored by the same `lds`
 * stage as TRAK. This one needs no model at all: a training example supports a target
 * when it looks like it (cosine similarity of the features) and shares its label, and
 * opposes it when it looks like it with another label.
 *
 *   τ(x_j)_i = cos(x_j, x_i) · (+1 if y_i = y_j else −1)
 *
 * It reads the `dataset` artifact and writes a `scores` artifact (the file names in
 * 'attrib/artifacts'), so every stage that takes scores (lds, reports) takes it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, z, type Registry } from 'attrib';
import { DATASET, SCORES } from 'attrib/artifacts';
import { readNpy, writeNpy } from 'attrib/npy';

const params = z.strictObject({
  targets: z.number().int().positive().optional().describe('score the first `targets` test examples (default: all)'),
});

export const similarity = defineStage<z.infer<typeof params>>({
  name: 'similarity',
  version: '1', // part of the hash: bump it when the math changes
  description: 'input-space baseline: label-signed cosine similarity of the features',
  equation: 'τ(x_j)_i = cos(x_j, x_i) · (+1 if y_i = y_j else −1)',
  params,
  inputs: { data: { kinds: ['dataset'], description: 'the data set (train examples and targets)' } },
  output: 'scores',
  async run(ctx) {
    const dir = ctx.inputs.data!.dir;
    const xTrain = readNpy(join(dir, DATASET.xTrain));
    const yTrain = readNpy(join(dir, DATASET.yTrain)).data;
    const xTest = readNpy(join(dir, DATASET.xTest));
    const yTest = readNpy(join(dir, DATASET.yTest)).data;
    const n = xTrain.shape[0]!;
    const d = xTrain.data.length / n;
    const targets = Math.min(ctx.params.targets ?? xTest.shape[0]!, xTest.shape[0]!);
    const norm = (x: ArrayLike<number>, row: number) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[row * d + k]! ** 2;
      return Math.sqrt(s) || 1;
    };
    const trainNorms = Float64Array.from({ length: n }, (_, i) => norm(xTrain.data, i));
    const scores = new Float32Array(targets * n);
    for (let j = 0; j < targets; j++) {
      const nj = norm(xTest.data, j);
      for (let i = 0; i < n; i++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += xTest.data[j * d + k]! * xTrain.data[i * d + k]!;
        scores[j * n + i] = (dot / (nj * trainNorms[i]!)) * (yTrain[i] === yTest[j] ? 1 : -1);
      }
    }
    // Write into ctx.outDir only: the engine moves it into the store when run() returns.
    writeNpy(join(ctx.outDir, SCORES.scores), scores, [targets, n]);
    writeNpy(join(ctx.outDir, SCORES.targetIndex), Int32Array.from({ length: targets }, (_, j) => j));
    writeFileSync(join(ctx.outDir, SCORES.top), '[]');
    writeFileSync(join(ctx.outDir, SCORES.meta), JSON.stringify({ method: 'similarity', nTargets: targets, nTrain: n }));
    ctx.log(`similarity scores for ${targets} targets over ${n} train examples`);
    return { metrics: { targets, train: n } };
  },
});

export default function register(registry: Registry) {
  registry.registerStage(similarity);
}
