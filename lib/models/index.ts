/**
 * Networks: model kinds (the functions take the table of registered kinds), the
 * built-in sequential networks, saving/loading (tfjs model.json + weights.bin) and the
 * margin.
 */
export type { LinearLayerInfo, MarginFn, Network, TappedForward } from './types.ts';
export { builtinModelKinds, cnn, createNetwork, listCheckpoints, loadModel, loadNetwork, logreg, mlp, modelSchema, ModelError } from './kinds.ts';
export type { Checkpoint, DataShape, ModelKind, ModelKindTable } from './kinds.ts';
export { crossEntropy, evaluate, margin, perExampleLoss } from './margin.ts';
export type { Evaluation } from './margin.ts';
export { im2col, SequentialNetwork } from './sequential.ts';
export type { Activation, BlockSpec, Topology } from './sequential.ts';
export { readNetworkFiles, saveNetworkFiles } from './io.ts';
