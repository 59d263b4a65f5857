/**
 * Data sets: the source table (extension point 'source'), the built-in sources, the
 * split and normalization the `dataset` stage applies, and the reader of its artifact
 * that downstream stages use (`loadDataset`).
 */
import { builtinSources } from './sources/index.ts';
import { registerSource, sourceTable } from './source.ts';

for (const source of builtinSources) if (!sourceTable().has(source.name)) registerSource(source);

export { bindSources, DataSourceError, loadSource, registerSource, resolveSource, resolvePath, sourceSchema, sourceTable } from './source.ts';
export type { DataSource, LoadedSource, SourcePart, SourceRequest } from './source.ts';
export { featureSize, featureTensor, findDataset, labelTensor, loadDataset } from './read-dataset.ts';
export type { Dataset } from './read-dataset.ts';
export { applyNormalization, fitNormalization } from './normalize.ts';
export type { Normalization, NormalizeKind } from './normalize.ts';
export { gatherGroups, gatherLabels, materialize, splitIndices } from './split.ts';
export type { Split } from './split.ts';
