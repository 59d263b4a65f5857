/**
 * Stage kind `train` (inputs `data`, `masks`): one model per (mask, seed), the raw
 * material of attribution and of LDS ground truth.
 *
 *   params: {model: {kind: logreg | mlp | cnn | <plugin>, ...}, fit: {...}, seeds?: r,
 *            checkpoints?: [epochs] | {every: k}}
 *   unit m = mask · seeds + seed:  θ_m = fit(init(Rng(unit seed, 'init')), S_mask,
 *                                            shuffle Rng(unit seed, 'shuffle'))
 *   per model and example: f(z; θ_m) = logit_y − logsumexp_{y'≠y} logit_{y'}, p = σ(f),
 *                          ℓ = cross-entropy (float32, as torch: dattri's target is −ℓ)
 *
 * Each unit saves units/<m>/model/ (and checkpoints/<epoch>/ with the epoch's mean
 * learning rate, for TracIn) plus its margins/probs over the whole train and test
 * splits; combine() stacks them into [models × examples] arrays (lib/artifacts.ts
 * MODELS). Train accuracy is measured on the model's own subset, held-out accuracy on
 * the train examples outside it. A killed run resumes at the next unfinished unit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, type Artifact, type Extensions } from '../pipeline/registry.ts';
import { MASKS, MODELS } from '../lib/artifacts.ts';
import { initBackend } from '../lib/backend.ts';
import { loadDataset } from '../lib/data/index.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { NpyWriter, readNpy, readNpyHeader, readNpyRows, writeNpy } from '../lib/io/npy.ts';
import { createNetwork, evaluate, modelSchema, type ModelKindTable } from '../lib/models/index.ts';
import { Rng } from '../lib/random/rng.ts';
import { fit, fitSpec, type EpochReport } from '../lib/training/index.ts';
import { MODEL_KINDS } from './extensions.ts';

const checkpointSpec = z.union([z.array(z.number().int().positive()), z.strictObject({ every: z.number().int().positive() })]);

/** The params schema over the model kinds registered in `models`. */
export function trainParams(models: ModelKindTable) {
  return z
    .strictObject({
      model: modelSchema(models).describe('the network: {kind: logreg | mlp | cnn | a plugin\'s kind, ...options}, or just the kind'),
      fit: fitSpec.describe('the training recipe: epochs, batch size, optimizer, schedule, weight decay'),
      seeds: z.number().int().positive().default(1).describe('models trained per mask (different init and shuffling)'),
      checkpoints: checkpointSpec.optional().describe('epochs whose weights are kept for TracIn: a list, or {every: k}'),
    })
    .superRefine((p, ctx) => {
      if (Array.isArray(p.checkpoints)) {
        for (const [i, e] of p.checkpoints.entries()) {
          if (e > p.fit.epochs) ctx.addIssue({ code: 'custom', path: ['checkpoints', i], message: `checkpoint epoch ${e} is after the last epoch (${p.fit.epochs})` });
        }
      }
    });
}

export type TrainParams = z.infer<ReturnType<typeof trainParams>>;

/** Epochs (1-based) whose weights a unit keeps. */
export function checkpointEpochs(spec: TrainParams['checkpoints'], epochs: number): number[] {
  if (!spec) return [];
  if (Array.isArray(spec)) return [...new Set(spec)].sort((a, b) => a - b);
  const out: number[] = [];
  for (let e = spec.every; e <= epochs; e += spec.every) out.push(e);
  return out;
}

/** What a unit records in units/<m>/fit.json. */
export interface UnitRecord {
  model: number;
  mask: number;
  seed: number;
  subsetSize: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Accuracy on train examples outside the subset (null when the subset is the full set). */
  heldOutAccuracy: number | null;
  finalLoss: number;
  seconds: number;
  secondsPerEpoch: number;
  numParams: number;
  backend: string;
  epochs: EpochReport[];
  checkpoints: { epoch: number; lr: number }[];
}

function maskCount(masks: Artifact): number {
  return readNpyHeader(join(masks.dir, MASKS.masks)).shape[0];
}

export const train = defineStage<TrainParams>({
  name: 'train',
  version: '1',
  description: 'trains `seeds` models on each mask (logreg, mlp, cnn or a plugin model) and records every example\'s margin',
  equation: 'θ_m = fit(S_mask(m)); margins[m, i] = logit_y − logsumexp_{y′≠y} logit_y′ at θ_m; probs = σ(margins)',
  params: (registry: Extensions) => trainParams(registry.extensions(MODEL_KINDS)),
  inputs: {
    data: { kinds: ['dataset'], description: 'the data set (train split to fit, both splits to score)' },
    masks: { kinds: ['masks'], description: 'which train examples each model sees' },
  },
  output: 'models',

  units(ctx) {
    return maskCount(ctx.inputs.masks) * ctx.params.seeds;
  },

  async runUnit(ctx) {
    const started = performance.now();
    const backend = await initBackend(ctx.backend);
    const { seeds, fit: recipe } = ctx.params;
    const mask = Math.floor(ctx.index / seeds);
    const seed = ctx.index % seeds;
    const ds = loadDataset(ctx.inputs.data.dir);
    const row = readNpyRows(join(ctx.inputs.masks.dir, MASKS.masks), mask, mask + 1).data as Uint8Array;
    if (row.length !== ds.meta.nTrain) {
      throw new Error(`train: masks have ${row.length} columns but the data set has ${ds.meta.nTrain} train examples (masks drawn from another data set?)`);
    }
    const rows: number[] = [];
    for (let i = 0; i < row.length; i++) if (row[i]) rows.push(i);
    if (rows.length === 0) throw new Error(`train: mask ${mask} is empty`);

    const net = createNetwork(ctx.registry.extensions(MODEL_KINDS), ctx.params.model, { featureShape: ds.meta.featureShape, classes: ds.meta.classes }, Rng.from(ctx.seed, 'init'));
    const keep = new Set(checkpointEpochs(ctx.params.checkpoints, recipe.epochs));
    const checkpoints: { epoch: number; lr: number }[] = [];
    try {
      const reports = await fit(net, { x: ds.xTrain, featureShape: ds.meta.featureShape, y: ds.yTrain, rows: Int32Array.from(rows) }, recipe, Rng.from(ctx.seed, 'shuffle'), {
        progress: (f) => ctx.progress(0.95 * f),
        onEpoch: async (r) => {
          if (!keep.has(r.epoch)) return;
          const dir = join(ctx.outDir, 'checkpoints', String(r.epoch));
          await net.save(dir);
          writeJsonAtomic(join(dir, 'checkpoint.json'), { epoch: r.epoch, lr: r.lr, lrFirst: r.lrFirst, lrLast: r.lrLast, steps: r.steps, loss: r.loss });
          checkpoints.push({ epoch: r.epoch, lr: r.lr });
        },
      });
      await net.save(join(ctx.outDir, 'model'));
      const onTrain = evaluate(net, ds.xTrain, ds.yTrain, 1000, ds.meta.featureShape);
      const onTest = evaluate(net, ds.xTest, ds.yTest, 1000, ds.meta.featureShape);
      let inHits = 0;
      let outHits = 0;
      for (let i = 0; i < row.length; i++) {
        if (row[i]) inHits += onTrain.correct[i];
        else outHits += onTrain.correct[i];
      }
      const outside = row.length - rows.length;
      const u = MODELS.unit;
      writeNpy(join(ctx.outDir, u.marginsTrain), onTrain.margins);
      writeNpy(join(ctx.outDir, u.probsTrain), onTrain.probs);
      writeNpy(join(ctx.outDir, u.marginsTest), onTest.margins);
      writeNpy(join(ctx.outDir, u.probsTest), onTest.probs);
      writeNpy(join(ctx.outDir, u.lossesTrain), onTrain.losses);
      writeNpy(join(ctx.outDir, u.lossesTest), onTest.losses);
      const seconds = (performance.now() - started) / 1000;
      const record: UnitRecord = {
        model: ctx.index,
        mask,
        seed,
        subsetSize: rows.length,
        trainAccuracy: inHits / rows.length,
        testAccuracy: onTest.accuracy,
        heldOutAccuracy: outside > 0 ? outHits / outside : null,
        finalLoss: reports[reports.length - 1].loss,
        seconds,
        secondsPerEpoch: reports.reduce((s, r) => s + r.seconds, 0) / reports.length,
        numParams: net.numParams,
        backend: backend.name,
        epochs: reports,
        checkpoints,
      };
      writeJsonAtomic(join(ctx.outDir, u.meta), record);
      ctx.log(`model ${ctx.index} (mask ${mask}, seed ${seed}): train ${(100 * record.trainAccuracy).toFixed(1)}%, test ${(100 * record.testAccuracy).toFixed(1)}%, ${seconds.toFixed(1)} s`);
      ctx.progress(1);
      return {
        metrics: { trainAccuracy: record.trainAccuracy, testAccuracy: record.testAccuracy, heldOutAccuracy: record.heldOutAccuracy, loss: record.finalLoss, seconds, secondsPerEpoch: record.secondsPerEpoch },
        info: { backend: backend.name, backendReason: backend.reason },
      };
    } finally {
      net.dispose();
    }
  },

  async combine(ctx) {
    const backend = await initBackend(ctx.backend);
    const ds = loadDataset(ctx.inputs.data.dir);
    const { nTrain, nTest } = ds.meta;
    const count = ctx.count;
    const u = MODELS.unit;
    const records: UnitRecord[] = [];
    // Units trained before losses were recorded have none: then the artifact has none either.
    const withLosses = Array.from({ length: count }, (_, m) => existsSync(join(ctx.unitDir(m), u.lossesTest))).every(Boolean);
    const keys = ['marginsTrain', 'marginsTest', 'probsTrain', 'probsTest', ...(withLosses ? (['lossesTrain', 'lossesTest'] as const) : [])] as const;
    const writers: Partial<Record<(typeof keys)[number], NpyWriter>> = {};
    for (const key of keys) writers[key] = new NpyWriter(join(ctx.outDir, MODELS[key]), 'float32', [key.endsWith('Train') ? nTrain : nTest]);
    try {
      for (let m = 0; m < count; m++) {
        const dir = ctx.unitDir(m);
        records.push(JSON.parse(readFileSync(join(dir, u.meta), 'utf8')) as UnitRecord);
        for (const key of keys) writers[key]!.append(readNpy(join(dir, u[key])).data);
      }
      for (const w of Object.values(writers)) w!.close();
    } catch (e) {
      for (const w of Object.values(writers)) w!.abort();
      throw e;
    }
    writeNpy(join(ctx.outDir, MODELS.maskOf), Int32Array.from(records, (r) => r.mask));
    writeNpy(join(ctx.outDir, MODELS.seedOf), Int32Array.from(records, (r) => r.seed));
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const std = (xs: number[]) => {
      const mu = mean(xs);
      return Math.sqrt(mean(xs.map((v) => (v - mu) ** 2)));
    };
    const trainAccuracy = records.map((r) => r.trainAccuracy);
    const testAccuracy = records.map((r) => r.testAccuracy);
    const heldOut = records.map((r) => r.heldOutAccuracy).filter((v): v is number => v !== null);
    const masks = count / ctx.params.seeds;
    writeJsonAtomic(join(ctx.outDir, MODELS.meta), {
      models: count,
      seeds: ctx.params.seeds,
      masks,
      model: ctx.params.model,
      fit: ctx.params.fit,
      numParams: records[0]?.numParams,
      nTrain,
      nTest,
      trainAccuracy,
      testAccuracy,
      heldOutAccuracy: records.map((r) => r.heldOutAccuracy),
      checkpoints: records[0]?.checkpoints ?? [],
      secondsPerModel: records.map((r) => r.seconds),
    });
    const backends = [...new Set(records.map((r) => r.backend))];
    ctx.log(`train: ${count} models, train ${(100 * mean(trainAccuracy)).toFixed(1)}%, test ${(100 * mean(testAccuracy)).toFixed(1)}% ± ${(100 * std(testAccuracy)).toFixed(1)}`);
    return {
      metrics: {
        models: count,
        masks,
        seeds: ctx.params.seeds,
        trainAccuracy: mean(trainAccuracy),
        testAccuracy: mean(testAccuracy),
        testAccuracyStd: std(testAccuracy),
        heldOutAccuracy: heldOut.length ? mean(heldOut) : null,
        numParams: records[0]?.numParams ?? null,
        secondsPerModel: mean(records.map((r) => r.seconds)),
        secondsPerEpoch: mean(records.map((r) => r.secondsPerEpoch)),
      },
      info: { backend: backends.join(',') || backend.name, backendReason: backend.reason },
    };
  },
});
