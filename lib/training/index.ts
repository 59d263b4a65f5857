/** Training: the fit recipe (optimizers, schedules) and the loop. */
export { DivergedError, fit } from './fit.ts';
export type { EpochReport, FitData } from './fit.ts';
export { makeOptimizer } from './optimizers.ts';
export type { Optimizer } from './optimizers.ts';
export { adamSpec, fitSpec, learningRate, optimizerSpec, scheduleSpec, sgdSpec } from './recipe.ts';
export type { FitSpec, OptimizerSpec, ScheduleSpec } from './recipe.ts';
