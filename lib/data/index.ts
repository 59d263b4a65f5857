/**
 * Data sets: data sources (the functions take the table of registered sources), the
 * built-in sources, the split and normalization the `dataset` stage applies, and the
 * reader of its artifact that downstream stages use (`loadDataset`).
 */
export { builtinSources } from './sources/index.ts';
export { DataSourceError, loadSource, resolveSource, resolvePath, SourceFileError, sourceSchema } from './source.ts';
export type { DataSource, LoadedSource, SourcePart, SourceRequest, SourceTable } from './source.ts';
export { featureSize, featureTensor, labelTensor, loadDataset } from './read-dataset.ts';
export type { Dataset } from './read-dataset.ts';
export { applyNormalization, fitNormalization } from './normalize.ts';
export type { Normalization, NormalizeKind } from './normalize.ts';
export { gatherGroups, gatherLabels, materialize, splitIndices } from './split.ts';
export type { Split } from './split.ts';
