/**
 * Stage kind `dataset`: a deterministic train/test split of a data source, stored as
 * float32 features (normalized) and int32 labels plus the source row indices, the
 * `data` input of every other stage.
 *
 *   params: {source: <name> | {kind: <source>, ...options}, train?, test?, seed?, take?, normalize?}
 *
 * A pooled source (mnist, fashion-mnist, iris, synthetic, one csv/npy file) is permuted
 * with the split seed and cut into train then test; a source with train and test parts
 * (mnist-full, csv/npy with two files) is used as given, a seeded subset of each when
 * fewer rows are asked for. `take: first` takes rows in file order instead. The split seed is `seed` when given (so the
 * split does not change with the experiment seed), else the stage's derived seed.
 * Normalization is fitted on train only (see data/normalize.ts).
 *
 * A source with groups (csv `groupColumn`) also writes group_train/group_test.npy.
 * The stage hash covers the content of csv/npy files as well as the params (see
 * `fingerprint`): an edited file re-runs the stage. Their sha256 are also recorded in
 * dataset.json; the source's `sha256:` option pins them (a changed file is an error).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, ParamsError, type Extensions } from '../pipeline/registry.ts';
import { DATASET, type DatasetMeta } from '../lib/artifacts.ts';
import { initBackend } from '../lib/backend.ts';
import { fileFingerprint } from '../lib/data/source.ts';
import { applyNormalization, fitNormalization, gatherGroups, gatherLabels, loadSource, materialize, resolveSource, SourceFileError, sourceSchema, splitIndices, type SourceTable } from '../lib/data/index.ts';
import { builtinSources } from '../lib/data/sources/index.ts';
import { writeNpy } from '../lib/io/npy.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { Rng } from '../lib/random/rng.ts';
import { DATA_SOURCES } from './extensions.ts';

/** The params schema over the data sources registered in `sources`. */
export function datasetParams(sources: SourceTable) {
  return z.strictObject({
    source: sourceSchema(sources).describe(`where the examples come from: {kind: ${builtinSources.map((b) => b.name).join(' | ')} | a plugin's source, ...options}, or just the kind`),
    train: z.number().int().positive().optional().describe('train examples (required for a pooled source; default: all of a given train part)'),
    test: z.number().int().positive().optional().describe('test examples (required for a pooled source; default: all of a given test part)'),
    seed: z.number().int().optional().describe('split seed (default: derived from the experiment seed)'),
    take: z.enum(['random', 'first']).optional().describe("which rows: random (a seeded subset, the default) or first (in file order: a pool's first train rows then the next test rows, or a given part's first rows, as benchmarks that use \"the first 5000 images\")"),
    normalize: z.enum(['auto', 'none', 'standardize', 'minmax']).default('auto').describe('feature scaling, fitted on the train split: auto standardizes tabular data and leaves images as the source gives them ([0, 1])'),
  });
}

export type DatasetParams = z.infer<ReturnType<typeof datasetParams>>;

export const dataset = defineStage<DatasetParams>({
  name: 'dataset',
  version: '1',
  description: 'a deterministic train/test split of a data source (mnist, mnist-full, fashion-mnist, iris, synthetic, csv, npy, plugins)',
  equation: "x' = (x − shift) / scale, fitted on train; split = seeded permutation of the pool, or the given parts",
  params: (registry: Extensions) => datasetParams(registry.extensions(DATA_SOURCES)),
  inputs: {},
  output: 'dataset',
  // csv/npy files are hashed by content, so an edited file re-runs the split (DVC-style).
  fingerprint(params, registry) {
    const { source, options } = resolveSource(registry.extensions(DATA_SOURCES), params.source);
    const files = source.files?.(options) ?? [];
    if (files.length === 0) return undefined;
    try {
      return files.map(({ key, path }) => ({ key, sha256: fileFingerprint(key, path) }));
    } catch (e) {
      // A missing file is the user's mistake at params.source.<key>: reported like a config error.
      if (e instanceof SourceFileError) throw new ParamsError(e.message, e.path);
      throw e;
    }
  },
  async run(ctx) {
    const backend = await initBackend(ctx.backend);
    const { train, test, normalize } = ctx.params;
    const sources = ctx.registry.extensions(DATA_SOURCES);
    const { source: def, options } = resolveSource(sources, ctx.params.source);
    const source = await loadSource(sources, options, { train, test });
    const rng = ctx.params.seed !== undefined ? Rng.from('dataset-split', ctx.params.seed) : Rng.from(ctx.seed, 'split');
    const split = splitIndices(def.name, source, train, test, rng, ctx.params.take);
    const size = source.featureShape.reduce((a, b) => a * b, 1);
    const trainPart = split.given ? source.train! : source.pool!;
    const testPart = split.given ? source.test! : source.pool!;
    const xTrain = materialize(trainPart, split.trainIndex, size);
    const xTest = materialize(testPart, split.testIndex, size);
    const normalization = fitNormalization(normalize, xTrain, source.featureShape, source.image);
    applyNormalization(normalization, xTrain);
    applyNormalization(normalization, xTest);
    const nTrain = split.trainIndex.length;
    const nTest = split.testIndex.length;
    const out = (name: string) => join(ctx.outDir, name);
    writeNpy(out(DATASET.xTrain), xTrain, [nTrain, ...source.featureShape]);
    writeNpy(out(DATASET.yTrain), gatherLabels(trainPart, split.trainIndex));
    writeNpy(out(DATASET.xTest), xTest, [nTest, ...source.featureShape]);
    writeNpy(out(DATASET.yTest), gatherLabels(testPart, split.testIndex));
    writeNpy(out(DATASET.trainIndex), split.trainIndex);
    writeNpy(out(DATASET.testIndex), split.testIndex);
    if (source.groups) {
      writeNpy(out(DATASET.groupTrain), gatherGroups(trainPart, split.trainIndex));
      writeNpy(out(DATASET.groupTest), gatherGroups(testPart, split.testIndex));
    }
    const meta: DatasetMeta = {
      source: def.name,
      featureShape: source.featureShape,
      classes: source.classes,
      classNames: source.classNames,
      featureNames: source.featureNames,
      nTrain,
      nTest,
      image: source.image,
      split: split.given ? 'given' : 'random',
      normalization,
      files: source.files,
      groups: source.groups,
    };
    writeJsonAtomic(out(DATASET.meta), meta);
    ctx.log(`dataset ${def.name}: ${nTrain} train, ${nTest} test, ${source.classes} classes, examples [${source.featureShape.join('×')}]`);
    return {
      metrics: { nTrain, nTest, classes: source.classes, features: size },
      info: { backend: backend.name, backendReason: backend.reason, source: options, split: meta.split, normalization: normalization.kind, files: source.files ?? [] },
    };
  },
});
