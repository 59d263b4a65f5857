/**
 * Import stages: artifacts computed elsewhere come in from .npy files, checked against
 * the contract (docs/artifacts.md) and against the upstream data set, so attrib's
 * stages can use them: score existing TRAK scores with `lds`, run `trak` on gradients
 * projected elsewhere, use margins of models trained elsewhere as LDS ground truth.
 *
 *   import-masks     (input data)          masks: uint8/bool [subsets, nTrain]       -> masks
 *   import-margins   (inputs data, masks?) train: [models, nTrain], test: [models, nTest] -> models
 *   import-features  (input data)          train: [nTrain, k] and targets: [nTargets, k] per model,
 *                                          probs: [models, nTrain]                   -> features
 *   import-scores    (input data)          scores: [nTargets, nTrain] (or [nTrain, nTargets]
 *                                          with layout: train-by-targets, as MadryLab/trak saves) -> scores
 *
 * A file is a path or {path, sha256}: its content is part of the stage hash either way
 * (an edited file re-runs the stage), and a pin that does not match is an error at its
 * line of the config. float64 arrays are taken and stored as float32.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, ParamsError, type StageContext } from '../pipeline/registry.ts';
import { DATASET, FEATURES, MASKS, MODELS, type DatasetMeta } from '../lib/artifacts.ts';
import { checkArrays, type ArrayContract } from '../lib/artifact-check.ts';
import { resolveTargets, targetsParams } from '../lib/attribution/featurize.ts';
import type { FeaturesMeta } from '../lib/attribution/features.ts';
import { writeScores } from '../lib/attribution/scores.ts';
import { fileFingerprint, resolvePath, sha256Pin } from '../lib/data/source.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { readNpy, readNpyHeader, writeNpy } from '../lib/io/npy.ts';

const fileRef = z
  .union([z.string().min(1), z.strictObject({ path: z.string().min(1), sha256: sha256Pin.unwrap() })])
  .describe('a .npy file: its path, or {path, sha256} to pin its content');
type FileRef = z.infer<typeof fileRef>;

const pathOf = (f: FileRef) => (typeof f === 'string' ? f : f.path);

/** Every file a kind's params name, with where it sits in the params. */
type Named = { ref: FileRef; at: (string | number)[] };

/** The fingerprint of the named files; a missing file or a broken pin is a ParamsError at its line. */
function fingerprintFiles(files: Named[]): { path: string; sha256: string }[] {
  return files.map(({ ref, at }) => {
    let sha256: string;
    try {
      sha256 = fileFingerprint(String(at[at.length - 1]), pathOf(ref));
    } catch (e) {
      throw new ParamsError((e as Error).message, at);
    }
    if (typeof ref !== 'string' && ref.sha256 !== sha256) throw new ParamsError(`${ref.path} has sha256 ${sha256}, but the config pins ${ref.sha256}: the file changed`, at);
    return { path: pathOf(ref), sha256 };
  });
}

function datasetOf(ctx: StageContext): DatasetMeta {
  return JSON.parse(readFileSync(join(ctx.inputs.data!.dir, DATASET.meta), 'utf8')) as DatasetMeta;
}

/** The array of a checked file, as float32 (float64 is converted). */
function float32(path: string): Float32Array {
  const a = readNpy(resolvePath(path));
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
}

const floats = (file: string, shape: (string | number)[], extra: Partial<ArrayContract> = {}): ArrayContract => ({ file: resolvePath(file), dtype: 'float32', accept: ['float64'], shape, ...extra });

const dataInput = { data: { kinds: ['dataset'], description: 'the data set the arrays are about: their sizes are checked against it' } };

// ---------------------------------------------------------------------------------------

const masksParams = z.strictObject({ masks: fileRef.describe('uint8 or bool [subsets, nTrain]: 1 where train example i is in subset k') });

export const importMasks = defineStage<z.infer<typeof masksParams>>({
  name: 'import-masks',
  version: '1',
  description: 'training subsets from a .npy file (the masks your models were trained on)',
  equation: 'mask[k, i] = 1 if train example i ∈ S_k',
  params: masksParams,
  inputs: dataInput,
  output: 'masks',
  fingerprint: (p) => fingerprintFiles([{ ref: p.masks, at: ['masks'] }]),
  async run(ctx) {
    const { nTrain } = datasetOf(ctx);
    const file = resolvePath(pathOf(ctx.params.masks));
    const dims = checkArrays('', [{ file, dtype: 'uint8', accept: ['bool'], shape: ['count', 'nTrain'], range: [0, 1] }], { nTrain }, 'import-masks');
    const masks = readNpy(file);
    writeNpy(join(ctx.outDir, MASKS.masks), { dtype: 'uint8', shape: masks.shape, data: Uint8Array.from(masks.data) });
    let total = 0;
    for (const v of masks.data) total += v;
    writeJsonAtomic(join(ctx.outDir, MASKS.meta), { count: dims.count, nTrain, alpha: total / (dims.count! * nTrain), mode: 'imported' });
    return { metrics: { count: dims.count!, nTrain, meanSize: total / dims.count! } };
  },
});

// ---------------------------------------------------------------------------------------

const marginsParams = z.strictObject({
  train: fileRef.describe('float32 [models, nTrain]: margin f(z_i; θ_m) of every train example'),
  test: fileRef.describe('float32 [models, nTest]: margin of every test example'),
  seeds: z.number().int().positive().default(1).describe('models per mask: model m was trained on mask ⌊m / seeds⌋'),
});

export const importMargins = defineStage<z.infer<typeof marginsParams>>({
  name: 'import-margins',
  version: '1',
  description: 'margins of models trained elsewhere, as a models artifact (e.g. LDS ground truth)',
  equation: 'margins[m, i] = f(z_i; θ_m); probs = σ(margins); model m trained on mask ⌊m / seeds⌋',
  params: marginsParams,
  inputs: { ...dataInput, masks: { kinds: ['masks'], optional: true, description: 'the masks the models were trained on (lds needs them)' } },
  output: 'models',
  fingerprint: (p) => fingerprintFiles([{ ref: p.train, at: ['train'] }, { ref: p.test, at: ['test'] }]),
  async run(ctx) {
    const { nTrain, nTest } = datasetOf(ctx);
    const { seeds } = ctx.params;
    const dims: Record<string, number> = { nTrain, nTest };
    if (ctx.inputs.masks) dims.models = readNpyHeader(join(ctx.inputs.masks.dir, MASKS.masks)).shape[0]! * seeds;
    const [train, test] = [pathOf(ctx.params.train), pathOf(ctx.params.test)];
    checkArrays('', [floats(train, ['models', 'nTrain']), floats(test, ['models', 'nTest'])], dims, 'import-margins');
    const models = dims.models!;
    if (models % seeds !== 0) throw new Error(`import-margins: ${models} models is not a whole number of masks of ${seeds} seeds`);
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    for (const [path, file, probs, n] of [[train, MODELS.marginsTrain, MODELS.probsTrain, nTrain], [test, MODELS.marginsTest, MODELS.probsTest, nTest]] as const) {
      const m = float32(path);
      writeNpy(join(ctx.outDir, file), m, [models, n]);
      writeNpy(join(ctx.outDir, probs), Float32Array.from(m, sigmoid), [models, n]);
    }
    writeNpy(join(ctx.outDir, MODELS.maskOf), Int32Array.from({ length: models }, (_, m) => Math.floor(m / seeds)));
    writeNpy(join(ctx.outDir, MODELS.seedOf), Int32Array.from({ length: models }, (_, m) => m % seeds));
    writeJsonAtomic(join(ctx.outDir, MODELS.meta), { models, seeds, masks: models / seeds, nTrain, nTest, trainAccuracy: [], testAccuracy: [], checkpoints: [], imported: true });
    return { metrics: { models, masks: models / seeds, seeds } };
  },
});

// ---------------------------------------------------------------------------------------

const featuresParams = z
  .strictObject({
    train: z.array(fileRef).min(1).describe('per model s: float32 [nTrain, k], φ_{s,i} of every train example'),
    targets: z.array(fileRef).min(1).describe('per model s: float32 [nTargets, k], φ_s(x_j) of every target'),
    probs: fileRef.describe('float32 [models, nTrain]: p_{s,i} = σ(f(z_i; θ_s)), the correct-class probability'),
    targetIndices: targetsParams.describe('which test examples the targets rows are: {split: test, count?} or {indices}'),
    projector: z.string().min(1).default('external').describe('the projection used, recorded in features.json (identity: exact gradients)'),
  })
  .refine((p) => p.train.length === p.targets.length, { message: 'give as many targets files as train files (one of each per model)', path: ['targets'] });
type FeaturesParams = z.infer<typeof featuresParams>;

export const importFeatures = defineStage<FeaturesParams>({
  name: 'import-features',
  version: '1',
  description: 'per-example features (projected gradients) computed elsewhere, for trak and the gradient baselines',
  equation: 'φ_{s,i} = Pᵀ∇θ f(z_i; θ_s) per model s, p_{s,i} = σ(f(z_i; θ_s))',
  params: featuresParams,
  inputs: dataInput,
  output: 'features',
  fingerprint: (p) =>
    fingerprintFiles([
      ...p.train.map((ref, i) => ({ ref, at: ['train', i] })),
      ...p.targets.map((ref, i) => ({ ref, at: ['targets', i] })),
      { ref: p.probs, at: ['probs'] },
    ]),
  async run(ctx) {
    const meta = datasetOf(ctx);
    const targets = resolveTargets(ctx.params.targetIndices, meta.nTest, 'import-features');
    const models = ctx.params.train.length;
    const dims: Record<string, number> = { nTrain: meta.nTrain, nTargets: targets.length, models };
    const contracts = ctx.params.train.flatMap((t, s) => [floats(pathOf(t), ['nTrain', 'k']), floats(pathOf(ctx.params.targets[s]!), ['nTargets', 'k'])]);
    checkArrays('', [...contracts, floats(pathOf(ctx.params.probs), ['models', 'nTrain'], { range: [0, 1] })], dims, 'import-features');
    for (let s = 0; s < models; s++) {
      writeNpy(join(ctx.outDir, FEATURES.train(s)), float32(pathOf(ctx.params.train[s]!)), [meta.nTrain, dims.k!]);
      writeNpy(join(ctx.outDir, FEATURES.targets(s)), float32(pathOf(ctx.params.targets[s]!)), [targets.length, dims.k!]);
    }
    writeNpy(join(ctx.outDir, FEATURES.probsTrain), float32(pathOf(ctx.params.probs)), [models, meta.nTrain]);
    writeNpy(join(ctx.outDir, FEATURES.targetIndex), targets);
    const features: FeaturesMeta = {
      models,
      k: dims.k!,
      projector: { kind: ctx.params.projector, dim: dims.k!, seed: 0 } as unknown as FeaturesMeta['projector'],
      perModel: true,
      nTrain: meta.nTrain,
      nTargets: targets.length,
      layers: [],
      params: 0,
    };
    writeJsonAtomic(join(ctx.outDir, FEATURES.meta), { ...features, imported: true });
    return { metrics: { models, k: dims.k!, train: meta.nTrain, targets: targets.length, projector: ctx.params.projector } };
  },
});

// ---------------------------------------------------------------------------------------

const scoresParams = z.strictObject({
  scores: fileRef.describe('float32 [nTargets, nTrain] score matrix τ(x_j)_i (or [nTrain, nTargets] with layout: train-by-targets)'),
  layout: z.enum(['targets-by-train', 'train-by-targets']).default('targets-by-train').describe('axis order of the file: attrib writes targets × train; MadryLab/trak saves train × targets'),
  targets: targetsParams.describe('which test examples the targets are: {split: test, count?} or {indices}'),
  topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
  method: z.string().min(1).default('imported').describe('the method name recorded in scores.json (and shown in reports)'),
});
type ScoresParams = z.infer<typeof scoresParams>;

export const importScores = defineStage<ScoresParams>({
  name: 'import-scores',
  version: '1',
  description: 'attribution scores computed elsewhere (e.g. MadryLab/trak), for lds and reports',
  equation: 'τ(x_j)_i from the file, transposed when the file is train × targets',
  params: scoresParams,
  inputs: dataInput,
  output: 'scores',
  fingerprint: (p) => fingerprintFiles([{ ref: p.scores, at: ['scores'] }]),
  async run(ctx) {
    const meta = datasetOf(ctx);
    const targets = resolveTargets(ctx.params.targets, meta.nTest, 'import-scores');
    const path = pathOf(ctx.params.scores);
    const transposed = ctx.params.layout === 'train-by-targets';
    const shape = transposed ? ['nTrain', 'nTargets'] : ['nTargets', 'nTrain'];
    const dims = { nTrain: meta.nTrain, nTargets: targets.length };
    const h = readNpyHeader(resolvePath(path)).shape;
    if (!transposed && h.length === 2 && h[0] === meta.nTrain && h[1] === targets.length && meta.nTrain !== targets.length) {
      throw new Error(`import-scores: ${path} has shape [${h.join(', ')}], which is train × targets: add layout: train-by-targets`);
    }
    checkArrays('', [floats(path, shape)], dims, 'import-scores');
    let scores = float32(path);
    if (transposed) {
      const t = new Float32Array(scores.length);
      for (let i = 0; i < meta.nTrain; i++) for (let j = 0; j < targets.length; j++) t[j * meta.nTrain + i] = scores[i * targets.length + j]!;
      scores = t;
    }
    const written = writeScores(ctx.outDir, scores, targets, meta.nTrain, { method: ctx.params.method, imported: path }, ctx.params.topK);
    return { metrics: { targets: written.nTargets, train: written.nTrain } };
  },
});

export const importKinds = [importMasks, importMargins, importFeatures, importScores];
