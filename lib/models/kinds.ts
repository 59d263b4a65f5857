/**
 * Model kinds: the `model:` of a train recipe. The functions here take the table of
 * registered kinds (the registry's MODEL_KINDS, stages/extensions.ts), from which the
 * train kind's params schema is built at validation time; built-ins logreg, mlp, cnn.
 * A plugin registers `{name, description, params, create}` with
 * `registry.register(MODEL_KINDS, name, kind)`.
 *
 *   logreg: logits = x W + b                       (multi-class logistic regression)
 *   mlp:    dense(h_1, act) [dropout] … dense(h_k, act) [dropout], dense(classes)
 *   cnn:    [conv k×k (c_i), relu, maxpool p] per channel entry, flatten,
 *           dense(h, act) per hidden entry, dense(classes)   (for H×W×C images)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MODELS } from '../artifacts.ts';
import type { Rng } from '../random/rng.ts';
import { readNetworkFiles } from './io.ts';
import { SequentialNetwork, type Activation, type BlockSpec, type Topology } from './sequential.ts';
import type { Network } from './types.ts';

export interface DataShape {
  /** One example: [features] or [H, W, C]. */
  featureShape: number[];
  classes: number;
}

export interface ModelKind<S extends { kind: string } = { kind: string }> {
  name: string;
  description: string;
  /** Strict zod object with `kind: z.literal(name)`. */
  params: z.ZodType<S>;
  /** A freshly initialized network; all randomness from `init`. */
  create(spec: S, shape: DataShape, init: Rng): Network;
  /**
   * Rebuild a saved network from its model.json topology and weights. Optional: a
   * topology with `blocks` is rebuilt as a SequentialNetwork.
   */
  restore?(topology: unknown, weights: Float32Array[]): Network;
}

export class ModelError extends Error {}

const activation = z.enum(['relu', 'tanh', 'sigmoid', 'elu']).default('relu').describe('activation of the hidden layers');
const hidden = z.array(z.number().int().positive());

export const logregParams = z.strictObject({ kind: z.literal('logreg') });
export const mlpParams = z.strictObject({
  kind: z.literal('mlp'),
  hidden: hidden.default([128]).describe('hidden layer widths'),
  activation,
  // Optional without a default, so configs that do not use it keep their stage hashes.
  dropout: z.number().min(0).lt(1).optional().describe('dropout rate after each hidden layer, in training only (kept units scaled by 1/(1 − rate), as torch); inference and attribution run without it'),
});
export const cnnParams = z.strictObject({
  kind: z.literal('cnn'),
  channels: hidden.min(1).default([16, 32]).describe('filters of each conv-relu-pool block'),
  kernel: z.number().int().positive().refine((k) => k % 2 === 1, 'expected an odd kernel size').default(3).describe('conv kernel size k (odd): k×k filters'),
  pool: z.number().int().positive().default(2).describe('max-pool window and stride after each conv block'),
  hidden: hidden.default([128]).describe('dense head widths before the output layer'),
  activation,
});

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Dense blocks in → hidden… → classes. */
function denseBlocks(inDim: number, widths: number[], act: Activation, classes: number, first = 0): BlockSpec[] {
  const dims = [inDim, ...widths, classes];
  return dims.slice(1).map((out, i) => ({
    type: 'dense' as const,
    name: `dense${first + i}`,
    inDim: dims[i],
    outDim: out,
    activation: i === dims.length - 2 ? ('linear' as const) : act,
  }));
}

function sequential<S extends { kind: string }>(kind: string, spec: S, shape: DataShape, blocks: BlockSpec[], init: Rng): Network {
  const topology: Topology = { kind, spec, featureShape: shape.featureShape, classes: shape.classes, blocks };
  return new SequentialNetwork(topology, init);
}

export const logreg: ModelKind<z.infer<typeof logregParams>> = {
  name: 'logreg',
  description: 'multi-class logistic regression: logits = x W + b',
  params: logregParams,
  create: (spec, shape, init) => sequential('logreg', spec, shape, denseBlocks(size(shape.featureShape), [], 'linear', shape.classes), init),
};

export const mlp: ModelKind<z.infer<typeof mlpParams>> = {
  name: 'mlp',
  description: 'multilayer perceptron: dense layers of the hidden widths with an activation, then a linear output',
  params: mlpParams,
  create: (spec, shape, init) => sequential('mlp', spec, shape, withHiddenDropout(denseBlocks(size(shape.featureShape), spec.hidden, spec.activation, shape.classes), spec.dropout), init),
};

/** Dropout after every block but the output layer (dattri's MNIST MLP: after each hidden relu). */
function withHiddenDropout(blocks: BlockSpec[], rate: number | undefined): BlockSpec[] {
  if (!rate) return blocks;
  return blocks.map((b, i) => (i < blocks.length - 1 && b.type === 'dense' ? { ...b, dropout: rate } : b));
}

export const cnn: ModelKind<z.infer<typeof cnnParams>> = {
  name: 'cnn',
  description: 'small CNN for H×W×C images: conv-relu-maxpool blocks, then a dense head',
  params: cnnParams,
  create(spec, shape, init) {
    const fs = shape.featureShape;
    if (fs.length !== 3 && fs.length !== 2) throw new ModelError(`model cnn needs image examples [H, W, C]; the data set's examples are [${fs.join(', ')}]`);
    let [height, width, cin] = [fs[0], fs[1], fs[2] ?? 1];
    const blocks: BlockSpec[] = [];
    spec.channels.forEach((cout, i) => {
      blocks.push({ type: 'conv2d', name: `conv${i}`, height, width, cin, cout, kernel: spec.kernel, activation: spec.activation, pool: spec.pool });
      height = Math.floor(height / spec.pool);
      width = Math.floor(width / spec.pool);
      cin = cout;
      if (height < 1 || width < 1) throw new ModelError(`model cnn: ${spec.channels.length} pooling blocks of ${spec.pool} shrink ${fs[0]}×${fs[1]} images to nothing`);
    });
    blocks.push(...denseBlocks(height * width * cin, spec.hidden, spec.activation, shape.classes));
    return sequential('cnn', spec, shape, blocks, init);
  },
};

/** The built-in model kinds, in the order `attrib kinds` lists them. */
export const builtinModelKinds: readonly ModelKind<any>[] = [logreg, mlp, cnn];

/** The registered model kinds by name. */
export type ModelKindTable = ReadonlyMap<string, ModelKind<any>>;

/** The discriminated union needs each schema to be an object whose `kind` is the literal name. */
function checkKindLiteral(name: string, schema: unknown): void {
  const kind = (schema as { shape?: { kind?: { value?: unknown } } }).shape?.kind;
  if (kind?.value !== name) throw new Error(`model kind "${name}": its params schema must be a z.object with kind: z.literal("${name}")`);
}

/** Schema of `model:`: a discriminated union over the registered kinds, read at validation time. A bare string is shorthand for {kind}. */
export function modelSchema(table: ModelKindTable): z.ZodType<{ kind: string }> {
  for (const [name, k] of table) checkKindLiteral(name, k.params);
  const options = [...table.values()].map((k) => k.params) as unknown as z.ZodObject<{ kind: z.ZodLiteral<string> }>[];
  const union = z.discriminatedUnion('kind', options as [z.ZodObject<{ kind: z.ZodLiteral<string> }>]);
  return z.preprocess((v) => (typeof v === 'string' ? { kind: v } : v), union) as unknown as z.ZodType<{ kind: string }>;
}

/** A freshly initialized network of a model spec (`{kind, ...}`) for a data shape. */
export function createNetwork(table: ModelKindTable, spec: { kind: string; [option: string]: unknown }, shape: DataShape, init: Rng): Network {
  const kind = table.get(spec.kind);
  if (!kind) throw new ModelError(`unknown model kind "${spec.kind}": expected one of ${[...table.keys()].join(', ')}`);
  return kind.create(kind.params.parse(spec), shape, init);
}

/**
 * Loads a network saved by Network.save (a model/ or checkpoints/<epoch>/ folder). A kind
 * in `table` with its own restore() rebuilds it; otherwise its topology's blocks do.
 */
export function loadNetwork(table: ModelKindTable, dir: string): Network {
  const { json, weights } = readNetworkFiles<Topology>(dir);
  const topology = json.modelTopology;
  const kind = table.get(topology.kind);
  if (kind?.restore) return kind.restore(topology, weights);
  if (!Array.isArray(topology.blocks)) throw new ModelError(`${dir}: model kind "${topology.kind}" is not registered, so its network cannot be rebuilt`);
  return new SequentialNetwork(topology, weights);
}

/** Model m of a `models` artifact in store entry `dir` (m = mask · seeds + seed). */
export function loadModel(table: ModelKindTable, dir: string, m: number): Network {
  return loadNetwork(table, join(dir, MODELS.modelDir(m)));
}

export interface Checkpoint {
  epoch: number;
  /** Mean learning rate of that epoch (TracIn weighs the checkpoint by it). */
  lr: number;
  /** Folder to pass to loadNetwork. */
  dir: string;
}

/** The intermediate checkpoints of model m of the `models` artifact in `base`, by epoch (empty when none were kept). */
export function listCheckpoints(base: string, m: number): Checkpoint[] {
  const root = join(base, 'units', String(m), 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'checkpoint.json')))
    .map((name) => {
      const dir = join(base, MODELS.checkpointDir(m, Number(name)));
      const meta = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { epoch: number; lr: number };
      return { epoch: meta.epoch, lr: meta.lr, dir };
    })
    .sort((a, b) => a.epoch - b.epoch);
}
