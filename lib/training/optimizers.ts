/**
 * Optimizers as explicit tf updates on a network's variables, so the learning rate can
 * change every step (schedules) and the state is plain tensors.
 *
 *   sgd (PyTorch convention): g ← ∇ + wd·W;  v ← μ v + g;  θ ← θ − η (nesterov ? g + μ v : v)
 *   adam: g ← ∇ + wd·W;  m ← β1 m + (1−β1) g;  s ← β2 s + (1−β2) g²;
 *         θ ← θ − η m̂ / (√ŝ + ε),  m̂ = m/(1−β1^t), ŝ = s/(1−β2^t)
 *
 * Weight decay applies to weights (even variable indices: [W, b] per layer), not biases.
 */
import { tf } from '../backend.ts';
import type { OptimizerSpec } from './recipe.ts';

export interface Optimizer {
  /** One update with gradients in the order of the variables. Call inside tf.tidy. */
  step(grads: tf.Tensor[], lr: number): void;
  dispose(): void;
}

export function makeOptimizer(spec: OptimizerSpec, variables: tf.Variable[], weightDecay: number): Optimizer {
  const decayed = (g: tf.Tensor, i: number) => (weightDecay > 0 && i % 2 === 0 ? tf.add(g, tf.mul(variables[i], weightDecay)) : g);
  const zeros = () => variables.map((v) => tf.variable(tf.zerosLike(v), false));
  if (spec.kind === 'sgd') {
    const velocity = spec.momentum > 0 ? zeros() : [];
    return {
      step(grads, lr) {
        grads.forEach((raw, i) => {
          const g = decayed(raw, i);
          let d = g;
          if (spec.momentum > 0) {
            const v = tf.add(tf.mul(velocity[i], spec.momentum), g);
            velocity[i].assign(v);
            d = spec.nesterov ? tf.add(g, tf.mul(v, spec.momentum)) : v;
          }
          variables[i].assign(tf.sub(variables[i], tf.mul(d, lr)));
        });
      },
      dispose: () => tf.dispose(velocity),
    };
  }
  const m = zeros();
  const s = zeros();
  let t = 0;
  return {
    step(grads, lr) {
      t++;
      const c1 = 1 - spec.beta1 ** t;
      const c2 = 1 - spec.beta2 ** t;
      grads.forEach((raw, i) => {
        const g = decayed(raw, i);
        const mi = tf.add(tf.mul(m[i], spec.beta1), tf.mul(g, 1 - spec.beta1));
        const si = tf.add(tf.mul(s[i], spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2));
        m[i].assign(mi);
        s[i].assign(si);
        const update = tf.div(tf.div(mi, c1), tf.add(tf.sqrt(tf.div(si, c2)), spec.epsilon));
        variables[i].assign(tf.sub(variables[i], tf.mul(update, lr)));
      });
    },
    dispose: () => tf.dispose([...m, ...s]),
  };
}
