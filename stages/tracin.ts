/**
 * `tracin`: TracIn-CP (Pruthi et al. 2020), the learning-rate-weighted sum over saved
 * checkpoints of gradient dot products, written for the margin of the target:
 *
 *     τ(x)_i = (1/S) Σ_s Σ_t η_t · ∇f(x; θ_{s,t})ᵀ (−∇ℓ(z_i; θ_{s,t}))
 *            = (1/S) Σ_s Σ_t η_t (1 − p_{s,t,i}) · φ_{s,t}(x)ᵀ φ_{s,t,i}
 *
 * with ℓ = −log σ(f) the training loss (so −∇ℓ_i = (1 − p_i) g_i), θ_{s,t} the weights of
 * model s saved after epoch t and η_t that epoch's mean learning rate (train's
 * checkpoints: [epochs] | {every: k}, lib/artifacts.ts MODELS.checkpointDir). A
 * gradient step on z_i changes f(x) by ≈ η (1 − p_i) g(x)ᵀg_i, so positive τ = training
 * on z_i raised the target's margin. φ = Pᵀ∇f with the same projector for every model and
 * checkpoint (identity: exact gradients). `models: S` uses the first S models of the
 * models input (default: all), as trak's does with its features.
 *
 * Work: one unit per (model, checkpoint) featurizes the train split and the targets at
 * that checkpoint (attribution/featurize.ts, `chunk` rows in memory at a time);
 * combine() scores blocks of targets (attribution/blocked.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Artifact } from '../pipeline/registry.ts';
import { defineStage } from '../pipeline/registry.ts';
import { MODELS } from '../lib/artifacts.ts';
import { backendInfo } from '../lib/backend.ts';
import { scoreInBlocks } from '../lib/attribution/blocked.ts';
import {
  DIM_REQUIRED,
  datasetMeta,
  featurize,
  projectorFor,
  projectorParams,
  projectorSpec,
  readRows,
  resolveTargets,
  targetsParams,
} from '../lib/attribution/featurize.ts';
import { ScoresWriter } from '../lib/attribution/scores.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { NpyWriter, readNpy, readNpyHeader, writeNpy } from '../lib/io/npy.ts';
import { loadNetwork } from '../lib/models/index.ts';
import { MODEL_KINDS } from './extensions.ts';
import { checkpointEpochs, dataOf, entryLabel, modelsMeta, modelsParam, modelsUsed } from './inputs.ts';

export const tracinParams = z
  .strictObject({
    projector: projectorParams,
    targets: targetsParams,
    models: modelsParam('the models input'),
    checkpoints: z.array(z.number().int().positive()).min(1).optional().describe('checkpoint epochs to use (default: every checkpoint the models saved)'),
    chunk: z.number().int().positive().default(4096).describe('train rows held in memory at a time within a unit'),
    batchSize: z.number().int().positive().default(128).describe('examples per backward pass'),
    grad_wrt: z.array(z.string()).min(1).optional().describe('layer names to take gradients with respect to (default: all)'),
    topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
    targetBlock: z.number().int().positive().optional().describe('targets scored per block (default: as many as keep a block ≤ 16M floats, at most 512)'),
  })
  .refine((p) => p.projector.kind === 'identity' || p.projector.dim !== undefined, { message: DIM_REQUIRED, path: ['projector', 'dim'] });
export type TracinParams = z.infer<typeof tracinParams>;

/** Per unit (model s, checkpoint t). */
const TRAIN_FILE = 'train.npy';
const TARGETS_FILE = 'targets.npy';
const PROBS_FILE = 'probs.npy';
const CHECKPOINT_FILE = 'checkpoint.json';

interface Schedule {
  /** S: the first `models` models of the input, or all of them. */
  models: number;
  /** Checkpoint epochs used, in order. */
  epochs: number[];
}

function schedule(params: TracinParams, models: Artifact): Schedule {
  const epochs = checkpointEpochs('tracin', models, params.checkpoints);
  return { models: modelsUsed('tracin', params.models, modelsMeta(models).models, `the models input (${entryLabel(models)}) holds`), epochs };
}

export const tracin = defineStage<TracinParams>({
  name: 'tracin',
  version: '2',
  description: 'TracIn-CP: learning-rate-weighted gradient dot products summed over checkpoints',
  equation: 'τ(x)_i = (1/S) Σ_s Σ_t η_t (1 − p_{s,t,i}) φ_{s,t}(x)ᵀ φ_{s,t,i}',
  params: tracinParams,
  inputs: { models: { kinds: ['models'], description: 'a train stage with checkpoints' } },
  output: 'scores',
  units(ctx) {
    const s = schedule(ctx.params, ctx.inputs.models);
    return s.models * s.epochs.length;
  },
  async runUnit(ctx) {
    const info = await backendInfo(ctx.backend);
    const { params } = ctx;
    const models = ctx.inputs.models;
    const data = dataOf(models, 'tracin').dir;
    const meta = datasetMeta(data);
    const sched = schedule(params, models);
    const model = Math.floor(ctx.index / sched.epochs.length);
    const epoch = sched.epochs[ctx.index % sched.epochs.length];
    const dir = join(models.dir, MODELS.checkpointDir(model, epoch));
    const { lr } = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { lr: number };
    const targets = resolveTargets(params.targets, meta.nTest, 'tracin');
    const net = loadNetwork(ctx.registry.extensions(MODEL_KINDS), dir);
    const { projector, which } = projectorFor(net, projectorSpec(params.projector, ctx.hash, model), params.grad_wrt);
    const writers: NpyWriter[] = [];
    try {
      const train = new NpyWriter(join(ctx.outDir, TRAIN_FILE), 'float32', [projector.dim]);
      writers.push(train);
      const probs = new Float32Array(meta.nTrain);
      const total = meta.nTrain + targets.length;
      for (let r0 = 0; r0 < meta.nTrain; r0 += params.chunk) {
        const r1 = Math.min(meta.nTrain, r0 + params.chunk);
        const p = featurize(net, which, projector, readRows(data, 'train', [r0, r1]), meta.featureShape, params.batchSize, train, (f) =>
          ctx.progress((r0 + f * (r1 - r0)) / total),
        );
        probs.set(p, r0);
      }
      train.close(meta.nTrain);
      const tw = new NpyWriter(join(ctx.outDir, TARGETS_FILE), 'float32', [projector.dim]);
      writers.push(tw);
      for (let t0 = 0; t0 < targets.length; t0 += params.chunk) {
        const t1 = Math.min(targets.length, t0 + params.chunk);
        featurize(net, which, projector, readRows(data, 'test', targets.subarray(t0, t1)), meta.featureShape, params.batchSize, tw);
      }
      tw.close(targets.length);
      writeNpy(join(ctx.outDir, PROBS_FILE), probs);
      writeJsonAtomic(join(ctx.outDir, CHECKPOINT_FILE), { model, epoch, lr });
      return { metrics: { model, epoch, lr, k: projector.dim }, info: { ...info } };
    } catch (e) {
      for (const w of writers) w.abort();
      throw e;
    } finally {
      projector.dispose();
      net.dispose();
    }
  },
  async combine(ctx) {
    await backendInfo(ctx.backend);
    const { params } = ctx;
    const models = ctx.inputs.models;
    const meta = datasetMeta(dataOf(models, 'tracin').dir);
    const sched = schedule(params, models);
    const targets = resolveTargets(params.targets, meta.nTest, 'tracin');
    const S = sched.models;
    const units = Array.from({ length: ctx.count }, (_, u) => ({
      dir: ctx.unitDir(u),
      ...(JSON.parse(readFileSync(join(ctx.unitDir(u), CHECKPOINT_FILE), 'utf8')) as { model: number; epoch: number; lr: number }),
    }));
    const writer = new ScoresWriter(ctx.outDir, meta.nTrain, targets, params.topK);
    let k = 0;
    try {
      scoreInBlocks({
        writer,
        targetBlock: params.targetBlock,
        terms: units.map((u) => {
          const p = readNpy(join(u.dir, PROBS_FILE)).data as Float32Array;
          return { targets: join(u.dir, TARGETS_FILE), train: join(u.dir, TRAIN_FILE), weight: u.lr / S, trainScale: p.map((v) => 1 - v) };
        }),
      });
      k = readNpyHeader(join(units[0].dir, TARGETS_FILE)).shape[1];
    } catch (e) {
      writer.abort();
      throw e;
    }
    const lrs = sched.epochs.map((e) => units.find((u) => u.epoch === e)!.lr);
    writer.close({ method: 'tracin', models: S, checkpoints: sched.epochs, lr: lrs, k, projector: projectorSpec(params.projector, ctx.hash, 0), perModel: !params.projector.shared });
    for (const line of writer.summary(ctx.dir)) ctx.log(line);
    return { metrics: { targets: targets.length, train: meta.nTrain, models: S, checkpoints: sched.epochs.length, k, projector: params.projector.kind } };
  },
});
