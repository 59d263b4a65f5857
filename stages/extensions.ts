/**
 * The machine-learning extension points: the keys of the registry tables that stage
 * kinds read and plugins add to. The library (lib/) never sees a registry: a kind hands
 * it the table it needs (`ctx.registry.extensions(DATA_SOURCES)`).
 *
 *   registry.register(DATA_SOURCES, 'two-moons', source)   a `source:` of the dataset stage
 *   registry.register(MODEL_KINDS, 'bottleneck', kind)     a `model:` of a train recipe
 *
 * registerBuiltins (stages/index.ts) registers the built-in ones into each registry.
 */
import { extensionPoint } from '../pipeline/registry.ts';
import type { DataSource } from '../lib/data/source.ts';
import type { ModelKind } from '../lib/models/kinds.ts';

export const DATA_SOURCES = extensionPoint<DataSource<any>>('source');
export const MODEL_KINDS = extensionPoint<ModelKind<any>>('model');
