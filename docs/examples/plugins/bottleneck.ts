/**
 * A model kind plugin: an MLP with a narrow middle layer, `model: {kind: bottleneck,
 * width: 32, bottleneck: 4}`. It builds on the built-in `mlp` kind (dense layers, the
 * margin, per-example gradients and saving come with it); a network written from
 * scratch implements the `Network` interface of lib/models/types.ts instead.
 */
import { MODEL_KINDS, z, type Registry } from 'attrib';

const params = z.strictObject({
  kind: z.literal('bottleneck'),
  width: z.number().int().positive().default(32).describe('width of the outer hidden layers'),
  bottleneck: z.number().int().positive().default(4).describe('width of the middle layer'),
});
type Params = z.infer<typeof params>;

export default function register(registry: Registry) {
  const mlp = registry.extensions(MODEL_KINDS).get('mlp');
  if (!mlp) throw new Error('the built-in model kinds are not registered');
  registry.register(MODEL_KINDS, 'bottleneck', {
    name: 'bottleneck',
    description: 'MLP width → bottleneck → width with relu, then a linear output',
    params,
    create: (spec: Params, shape, init) =>
      mlp.create({ kind: 'mlp', hidden: [spec.width, spec.bottleneck, spec.width], activation: 'relu' }, shape, init),
  });
}
