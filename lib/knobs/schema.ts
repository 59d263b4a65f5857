/**
 * The `knobs` param of `subsets`: a parametric subset distribution q_θ.
 *
 *   knobs: {groups, prior, mode?: rates | mixture, sampling?: bernoulli | exact, total?, rest?}
 *
 * groups (one knob per group, examples in at most one group):
 *   {by: label}                       one group per class
 *   {by: group}                       the data set's own group column (group_train.npy):
 *                                     a csv column (`groupColumn:`), the behavior policy
 *                                     of the offline-rl source, any source that sets one
 *   {by: indices, lists: [{name, indices}]}   explicit train-split row lists
 * prior (θ per draw):
 *   {kind: uniform, low?, high?}      θ_g ~ U[low_g, high_g] independently (rates)
 *   {kind: dirichlet, concentration?} θ ~ Dir(c) on the simplex (mixture weights)
 * mode (θ → mask):
 *   rates:   i ∈ S with probability θ_{g(i)} (bernoulli), or exactly round(θ_g·n_g)
 *            examples of group g (exact);   π_i(θ) = θ_g  or  round(θ_g·n_g)/n_g
 *   mixture: a subset of `total` examples, c_g(θ) ≈ total·θ_g of them from group g
 *            (largest remainders, capped at n_g with the excess spread over the other
 *            groups by weight), uniformly within the group;   π_i(θ) = c_g(θ)/n_g
 * rest: inclusion rate of examples in no group (bernoulli; 1 = always, 0 = never).
 */
import { z } from 'zod';

const rate = z.number().min(0).max(1);

export const groupsSpec = z.discriminatedUnion('by', [
  z.strictObject({ by: z.literal('label').describe('one group per class') }),
  z.strictObject({ by: z.literal('group').describe("the data set's group column (csv groupColumn, offline-rl behavior policy)") }),
  z.strictObject({
    by: z.literal('indices'),
    lists: z
      .array(z.strictObject({ name: z.string().min(1), indices: z.array(z.number().int().nonnegative()).min(1).describe('rows of the train split') }))
      .min(1)
      .describe('one knob per list; a row may be in at most one list'),
  }),
]);
export type GroupsSpec = z.infer<typeof groupsSpec>;

export const priorSpec = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('uniform'),
    low: z.union([rate, z.array(rate).min(1)]).default(0.1).describe('lower bound of every θ_g, or one per knob'),
    high: z.union([rate, z.array(rate).min(1)]).default(1).describe('upper bound of every θ_g, or one per knob'),
  }),
  z.strictObject({
    kind: z.literal('dirichlet'),
    concentration: z.union([z.number().positive(), z.array(z.number().positive()).min(1)]).default(1).describe('Dirichlet concentration: one for all knobs, or one per knob'),
  }),
]);
export type PriorSpec = z.infer<typeof priorSpec>;

export const knobsSpec = z
  .strictObject({
    groups: groupsSpec.describe('the knobs: one per group of train examples (by label, by the data set\'s group column, or listed indices)'),
    prior: priorSpec.describe('distribution of the knob setting θ: uniform rates or a dirichlet over groups'),
    mode: z.enum(['rates', 'mixture']).default('rates').describe('rates: θ_g is group g\'s inclusion rate; mixture: θ are the weights of a subset of `total` examples'),
    sampling: z.enum(['bernoulli', 'exact']).default('bernoulli').describe('rates mode: independent coin flips, or exactly round(θ_g·n_g) examples per group'),
    total: z.number().int().positive().optional().describe('mixture mode: examples in every subset'),
    rest: rate.default(1).describe('inclusion rate of train examples that are in no group'),
  })
  .superRefine((k, ctx) => {
    if (k.mode === 'mixture') {
      if (k.total === undefined) ctx.addIssue({ code: 'custom', path: ['total'], message: 'mixture mode needs total (examples per subset)' });
      if (k.prior.kind !== 'dirichlet') ctx.addIssue({ code: 'custom', path: ['prior', 'kind'], message: 'mixture weights need a dirichlet prior (θ on the simplex)' });
    } else if (k.total !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['total'], message: 'total applies to mixture mode only' });
    }
    if (k.prior.kind === 'uniform' && typeof k.prior.low === 'number' && typeof k.prior.high === 'number' && k.prior.low > k.prior.high) {
      ctx.addIssue({ code: 'custom', path: ['prior', 'low'], message: `low ${k.prior.low} is above high ${k.prior.high}` });
    }
  });
export type KnobsSpec = z.infer<typeof knobsSpec>;
