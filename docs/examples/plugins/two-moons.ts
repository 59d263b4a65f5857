/**
 * A data source plugin: two interleaving half circles with noise (the classic
 * "two moons"), made from its own seed. Registered under DATA_SOURCES, it is a `source:`
 * of the dataset stage like the built-in ones: `source: {kind: two-moons, noise: 0.2}`.
 */
import { DATA_SOURCES, z, type Registry } from 'attrib';

const options = z.strictObject({
  kind: z.literal('two-moons'),
  n: z.number().int().positive().default(400).describe('examples in the pool (split into train and test)'),
  noise: z.number().nonnegative().default(0.15).describe('std of the gaussian noise added to each point'),
  seed: z.number().int().default(0).describe('seed of the points (not the experiment seed)'),
});

/** A small seeded generator (mulberry32) and Box-Muller normals: the same points everywhere. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default function register(registry: Registry) {
  registry.register(DATA_SOURCES, 'two-moons', {
    name: 'two-moons',
    description: 'two interleaving half circles, 2 features, 2 classes',
    options,
    load(o: z.infer<typeof options>) {
      const uniform = random(o.seed);
      const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
      const x = new Float32Array(o.n * 2);
      const y = new Int32Array(o.n);
      for (let i = 0; i < o.n; i++) {
        const label = i % 2;
        const angle = Math.PI * uniform();
        x[2 * i] = (label ? 1 - Math.cos(angle) : Math.cos(angle)) + o.noise * normal();
        x[2 * i + 1] = (label ? 0.5 - Math.sin(angle) : Math.sin(angle)) + o.noise * normal();
        y[i] = label;
      }
      // One pool: the dataset stage splits it into train and test with its split seed.
      return { featureShape: [2], classes: 2, classNames: ['upper', 'lower'], image: false, pool: { x, y, n: o.n } };
    },
  });
}
