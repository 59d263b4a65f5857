/**
 * `linearize`: projected margin gradients of every trained model at its final
 * parameters, the features TRAK and the gradient baselines read (TRAK paper, Sec. 3:
 * the after-kernel features φ = Pᵀ∇θ f, with a random projection P):
 *
 *     φ_{s,i} = Pᵀ ∇θ f(z_i; θ_s)      every train example i and every target x_j
 *     p_{s,i} = σ(f(z_i; θ_s))          correct-class probability (TRAK's 1 − p term)
 *     f(z; θ) = logit_y − logsumexp_{y'≠y} logit_{y'}
 *
 * Per-example gradients come from one batched backward pass (attribution/gradients.ts):
 * zero taps on each layer's pre-activation give δ_{l,i} for the whole batch, and the
 * projector combines them with the layer inputs a_{l,i} (conv: the weight gradient is
 * Σ_positions δ ⊗ patch) without forming g_i when it can (kronecker).
 *
 * `output: loss` featurizes the training loss ℓ = softplus(−f) instead of f:
 * Pᵀ∇ℓ = −(1 − p)·Pᵀ∇f (dattri's Grad-Dot and TracIn take ∇ℓ on both sides). trak and
 * influence expect the margin (their (1 − p) terms assume it).
 *
 * Each model s has its own projector P_s, seeded `projector.seed` (else derived from
 * this stage's hash) + 10⁴·s as TRAK does, so the ensemble averages independent sketches;
 * `projector.shared: true` uses one P for all (an ablation). `grad_wrt` restricts θ to the
 * named layers.
 *
 * `checkpoints: [epochs]` linearizes each model at those saved checkpoints (train
 * `checkpoints:`) instead of its final parameters, and each (model, checkpoint) becomes
 * one feature set, model-major: the TRAK paper's ensembling over checkpoints of a training
 * run (MadryLab/trak loads each checkpoint as a model of its own), which buys more of the
 * ensemble's averaging for no extra training. Consumers' `models: S` still counts
 * training runs (S · checkpoints feature sets); each set has its own projector, seeded by
 * its set index.
 *
 * Work: one unit per (feature set, chunk of `chunk` rows), over the train split then the
 * targets, each writing its rows of φ; combine() streams the chunks into per-set arrays
 * (lib/artifacts.ts FEATURES), so memory stays bounded however large n is.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Artifact } from '../pipeline/registry.ts';
import { defineStage } from '../pipeline/registry.ts';
import { FEATURES, MODELS } from '../lib/artifacts.ts';
import { backendInfo } from '../lib/backend.ts';
import type { FeaturesMeta } from '../lib/attribution/features.ts';
import {
  chooseLayers,
  DIM_REQUIRED,
  datasetMeta,
  featurize,
  projectorFor,
  projectorParams,
  outputParam,
  projectorSpec,
  readRows,
  resolveTargets,
  targetsParams,
} from '../lib/attribution/featurize.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { NpyWriter, readNpy, readNpyChunks, readNpyHeader, rowsForBytes, writeNpy } from '../lib/io/npy.ts';
import { loadModel, loadNetwork } from '../lib/models/index.ts';
import { MODEL_KINDS } from './extensions.ts';
import { checkpointEpochs, dataOf, modelsMeta } from './inputs.ts';

/**
 * Largest projected dimension k accepted at validation (TRAK uses 512..20480). The data
 * shape is not known then, so a k below this that still does not fit (a dense P block or
 * a chunk of φ rows is rows × k floats) fails at the unit with a message naming
 * projector.dim, not a typed-array error.
 */
export const MAX_DIM = 1 << 20;

export const linearizeParams = z
  .strictObject({
    projector: projectorParams,
    targets: targetsParams,
    output: outputParam,
    chunk: z.number().int().positive().default(2048).describe('rows per work unit'),
    batchSize: z.number().int().positive().default(128).describe('examples per backward pass'),
    grad_wrt: z.array(z.string()).min(1).optional().describe('layer names to take gradients with respect to (default: all)'),
    checkpoints: z
      .array(z.number().int().positive())
      .min(1)
      .refine((e) => new Set(e).size === e.length, { message: 'each checkpoint epoch once' })
      .optional()
      .describe("linearize each model at these saved checkpoint epochs (train's checkpoints) instead of its final parameters; each (model, checkpoint) is one feature set, and consumers' models: S still counts training runs"),
  })
  .refine((p) => p.projector.kind === 'identity' || p.projector.dim !== undefined, { message: DIM_REQUIRED, path: ['projector', 'dim'] })
  .refine((p) => p.projector.kind === 'identity' || p.projector.dim === undefined || p.projector.dim <= MAX_DIM, {
    message: `expected at most ${MAX_DIM} (the projected dimension k; TRAK uses 512..20480)`,
    path: ['projector', 'dim'],
  });
export type LinearizeParams = z.infer<typeof linearizeParams>;

/** Per unit: φ rows [rows, k] and, for train chunks, σ(f) [rows]. */
const PHI_FILE = 'phi.npy';
const PROBS_FILE = 'probs.npy';

interface Plan {
  /** Training runs of the models input. */
  models: number;
  /** Checkpoint epochs per run, or [] for the final parameters. */
  epochs: number[];
  /** Feature sets: models · max(1, epochs.length), model-major. */
  sets: number;
  nTrain: number;
  /** Indices into the test split. */
  targets: Int32Array;
  trainChunks: number;
  targetChunks: number;
}

function plan(params: LinearizeParams, models: Artifact): Plan {
  const meta = datasetMeta(dataOf(models, 'linearize').dir);
  const targets = resolveTargets(params.targets, meta.nTest, 'linearize');
  const epochs = params.checkpoints ? checkpointEpochs('linearize', models, params.checkpoints) : [];
  const runs = modelsMeta(models).models;
  return {
    models: runs,
    epochs,
    sets: runs * Math.max(1, epochs.length),
    nTrain: meta.nTrain,
    targets,
    trainChunks: Math.ceil(meta.nTrain / params.chunk),
    targetChunks: Math.ceil(targets.length / params.chunk),
  };
}

/** Unit index → feature set, split and row range. */
function unitOf(p: Plan, chunk: number, index: number): { set: number; part: 'train' | 'targets'; start: number; end: number } {
  const per = p.trainChunks + p.targetChunks;
  const set = Math.floor(index / per);
  const c = index % per;
  if (c < p.trainChunks) return { set, part: 'train', start: c * chunk, end: Math.min(p.nTrain, (c + 1) * chunk) };
  const t = c - p.trainChunks;
  return { set, part: 'targets', start: t * chunk, end: Math.min(p.targets.length, (t + 1) * chunk) };
}

/** Feature set j's network: model ⌊j / C⌋ at checkpoint j mod C, or model j's final parameters. */
function networkOf(registry: Parameters<typeof loadModel>[0], modelsDir: string, p: Plan, set: number) {
  if (p.epochs.length === 0) return loadModel(registry, modelsDir, set);
  const C = p.epochs.length;
  return loadNetwork(registry, join(modelsDir, MODELS.checkpointDir(Math.floor(set / C), p.epochs[set % C]!)));
}

export const linearize = defineStage<LinearizeParams>({
  name: 'linearize',
  version: '2',
  description: 'Projected margin gradients φ = Pᵀ∇θ f of every model for the train split and the targets',
  equation: 'φ_{s,i} = Pᵀ ∇θ f(z_i; θ_s),  f = logit_y − logsumexp_{y′≠y} logit_{y′},  p_{s,i} = σ(f);  output: loss → Pᵀ ∇θ ℓ = −(1 − p) Pᵀ ∇θ f',
  params: linearizeParams,
  inputs: { models: { kinds: ['models'], description: 'trained models (a train stage); the data set is reached through its data input' } },
  output: 'features',
  units(ctx) {
    const p = plan(ctx.params, ctx.inputs.models);
    return p.sets * (p.trainChunks + p.targetChunks);
  },
  async runUnit(ctx) {
    const info = await backendInfo(ctx.backend);
    const { params } = ctx;
    const models = ctx.inputs.models;
    const data = dataOf(models, 'linearize').dir;
    const meta = datasetMeta(data);
    const p = plan(params, models);
    const u = unitOf(p, params.chunk, ctx.index);
    const rows = u.part === 'train' ? readRows(data, 'train', [u.start, u.end]) : readRows(data, 'test', p.targets.subarray(u.start, u.end));
    const net = networkOf(ctx.registry.extensions(MODEL_KINDS), models.dir, p, u.set);
    let projector: ReturnType<typeof projectorFor>['projector'] | undefined;
    let phi: NpyWriter | undefined;
    try {
      const chosen = projectorFor(net, projectorSpec(params.projector, ctx.hash, u.set), params.grad_wrt);
      projector = chosen.projector;
      phi = new NpyWriter(join(ctx.outDir, PHI_FILE), 'float32', [projector.dim]);
      const probs = featurize(net, chosen.which, projector, rows, meta.featureShape, params.batchSize, phi, ctx.progress, params.output);
      phi.close();
      if (u.part === 'train') writeNpy(join(ctx.outDir, PROBS_FILE), probs);
      return { metrics: { model: u.set, rows: u.end - u.start, k: projector.dim }, info: { ...info } };
    } catch (e) {
      phi?.abort();
      // Arrays of rows × k that do not fit: name the params that size them.
      if (e instanceof RangeError && /array|allocation/i.test(e.message)) {
        throw new Error(`projector.dim ${params.projector.dim ?? '(identity: every parameter)'} does not fit in memory with chunk ${params.chunk} (${e.message}); lower projector.dim or chunk`);
      }
      throw e;
    } finally {
      projector?.dispose();
      net.dispose();
    }
  },
  // combine copies every chunk into the per-model arrays: the chunks need not stay.
  scratchUnits: true,
  async combine(ctx) {
    await backendInfo(ctx.backend);
    const { params } = ctx;
    const models = ctx.inputs.models;
    const p = plan(params, models);
    const per = p.trainChunks + p.targetChunks;
    const k = readNpyHeader(join(ctx.unitDir(0), PHI_FILE)).shape[1];
    const open: NpyWriter[] = [];
    const writer = (path: string, rowShape: number[]) => {
      const w = new NpyWriter(join(ctx.outDir, path), 'float32', rowShape);
      open.push(w);
      return w;
    };
    const probs = writer(FEATURES.probsTrain, [p.nTrain]);
    try {
      for (let s = 0; s < p.sets; s++) {
        // Copy a unit's rows over in ≤ 16 MiB pieces (identity features can be wide).
        const copy = (c: number, to: NpyWriter) => {
          const path = join(ctx.unitDir(s * per + c), PHI_FILE);
          for (const { array } of readNpyChunks(path, rowsForBytes(readNpyHeader(path), 16 << 20))) to.append(array.data);
        };
        const train = writer(FEATURES.train(s), [k]);
        const pr = new Float32Array(p.nTrain);
        for (let c = 0; c < p.trainChunks; c++) {
          copy(c, train);
          pr.set(readNpy(join(ctx.unitDir(s * per + c), PROBS_FILE)).data as Float32Array, c * params.chunk);
        }
        train.close(p.nTrain);
        probs.append(pr);
        const targets = writer(FEATURES.targets(s), [k]);
        for (let c = 0; c < p.targetChunks; c++) copy(p.trainChunks + c, targets);
        targets.close(p.targets.length);
      }
      probs.close(p.sets);
    } catch (e) {
      for (const w of open) w.abort();
      throw e;
    }
    writeNpy(join(ctx.outDir, FEATURES.targetIndex), p.targets);
    const net = loadModel(ctx.registry.extensions(MODEL_KINDS), models.dir, 0);
    const { layers } = chooseLayers(net, params.grad_wrt);
    net.dispose();
    const meta: FeaturesMeta = {
      models: p.sets,
      ...(p.epochs.length ? { checkpoints: p.epochs } : {}),
      k,
      projector: projectorSpec(params.projector, ctx.hash, 0),
      perModel: !params.projector.shared,
      nTrain: p.nTrain,
      nTargets: p.targets.length,
      layers,
      params: layers.reduce((a, l) => a + l.inDim * l.outDim, 0),
      output: params.output ?? 'margin',
    };
    writeJsonAtomic(join(ctx.outDir, FEATURES.meta), meta);
    return { metrics: { models: p.sets, ...(p.epochs.length ? { checkpoints: p.epochs.length } : {}), k, train: p.nTrain, targets: p.targets.length, params: meta.params, projector: params.projector.kind } };
  },
});
