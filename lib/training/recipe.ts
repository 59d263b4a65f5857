/**
 * The fit recipe of a train stage (schema) and its learning-rate schedules.
 *
 *   fit: {epochs, batchSize, optimizer: {kind: sgd, lr, momentum?, nesterov?}
 *                                     | {kind: adam, lr, beta1?, beta2?, epsilon?},
 *         schedule?: constant | linear | onecycle | {kind: onecycle, peak?}, weightDecay?}
 *
 * Schedules are per step t = 0..T−1 (T = epochs · steps per epoch), evaluated at the
 * step's midpoint u = (t + ½)/T so that no step has a zero rate:
 *   constant: η
 *   linear:   η · (1 − u)                                  (decay to 0)
 *   onecycle: η · u/peak for u < peak, else η · (1 − u)/(1 − peak)   (triangle, as in
 *             TRAK's CIFAR recipe; peak = fraction of training at the top, default 0.25)
 */
import { z } from 'zod';

export const sgdSpec = z.strictObject({
  kind: z.literal('sgd'),
  lr: z.number().positive().describe('learning rate η (the peak rate under a schedule)'),
  momentum: z.number().min(0).lt(1).default(0).describe('heavy-ball momentum'),
  nesterov: z.boolean().default(false).describe('Nesterov momentum'),
});

export const adamSpec = z.strictObject({
  kind: z.literal('adam'),
  lr: z.number().positive().describe('learning rate η (the peak rate under a schedule)'),
  beta1: z.number().min(0).lt(1).default(0.9).describe('decay of the first-moment estimate'),
  beta2: z.number().min(0).lt(1).default(0.999).describe('decay of the second-moment estimate'),
  epsilon: z.number().positive().default(1e-8).describe('added to the root of the second moment'),
});

export const optimizerSpec = z.discriminatedUnion('kind', [sgdSpec, adamSpec]);
export type OptimizerSpec = z.infer<typeof optimizerSpec>;

export const scheduleSpec = z.preprocess(
  (v) => (typeof v === 'string' ? { kind: v } : v),
  z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('constant') }),
    z.strictObject({ kind: z.literal('linear') }),
    z.strictObject({ kind: z.literal('onecycle'), peak: z.number().gt(0).lt(1).default(0.25).describe('fraction of training at the top of the triangle') }),
  ]),
);
export type ScheduleSpec = z.infer<typeof scheduleSpec>;

export const fitSpec = z.strictObject({
  epochs: z.number().int().positive().describe('passes over the model\'s subset'),
  batchSize: z.number().int().positive().describe('examples per gradient step'),
  optimizer: optimizerSpec.describe('sgd or adam, with its learning rate'),
  schedule: scheduleSpec.default({ kind: 'constant' }).describe('learning rate over training: constant η, linear decay to 0, or onecycle (up to η at `peak`, then down to 0)'),
  weightDecay: z.number().min(0).default(0).describe('L2 penalty on the weights (not biases): adds wd·W to their gradient'),
});
export type FitSpec = z.infer<typeof fitSpec>;

/** Learning rate at step t of T. */
export function learningRate(schedule: ScheduleSpec, lr: number, t: number, total: number): number {
  const u = (t + 0.5) / total;
  switch (schedule.kind) {
    case 'constant': return lr;
    case 'linear': return lr * (1 - u);
    case 'onecycle': return u < schedule.peak ? (lr * u) / schedule.peak : (lr * (1 - u)) / (1 - schedule.peak);
  }
}
