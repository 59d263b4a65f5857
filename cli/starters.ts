/**
 * Starter configs for `attrib init`: one data section per data set, one method section
 * per method, composed into a commented config that names every stage explicitly and
 * runs as written (from the directory attrib init ran in). `tiny` shrinks every size so
 * the whole config runs in seconds (a smoke test; the tests run each one that way).
 */
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../pipeline/version.ts';

export const DATA = ['mnist', 'fashion-mnist', 'iris', 'synthetic', 'csv', 'npy'] as const;
export const METHODS = ['trak', 'datamodels', 'compare'] as const;
export type DataName = (typeof DATA)[number];
export type Method = (typeof METHODS)[number];

const ROOT = PACKAGE_ROOT;
export const SCHEMA_FILE = join(ROOT, 'schema', 'attrib.schema.json');
/** The example data the csv and npy starters read until you point them at yours. */
export const EXAMPLE_DATA = join(ROOT, 'docs', 'examples', 'data');

export interface StarterOptions {
  data: DataName;
  method: Method;
  /** Sizes that run in seconds instead of minutes. */
  tiny?: boolean;
  /** Where the config will be written (for the $schema path). */
  out: string;
  /** The directory attrib will run from (data paths are relative to it). Default: process.cwd(). */
  cwd?: string;
}

interface Sizes {
  train: number;
  test: number;
  /** Targets: the first `targets` test examples. */
  targets: number;
  /** Models TRAK and the gradient baselines average over. */
  models: number;
  /** Models datamodels regresses on. */
  dmModels: number;
  /** Ground-truth models of the LDS. */
  ldsModels: number;
  epochs: number;
  batchSize: number;
  lr: number;
  model: string;
  modelComment: string;
  projector: string;
  projectorComment: string;
  checkpointEvery: number;
}

function sizes(data: DataName, tiny: boolean): Sizes {
  const image = data === 'mnist' || data === 'fashion-mnist';
  const small = data === 'iris';
  const base: Sizes = image
    ? {
        train: 2000, test: 200, targets: 100, models: 8, dmModels: 1000, ldsModels: 50, epochs: 10, batchSize: 64, lr: 0.05,
        model: '{kind: mlp, hidden: [128]}', modelComment: 'logreg | mlp | cnn (cnn: {kind: cnn, channels: [16, 32]})',
        projector: '{kind: kronecker, dim: 512}', projectorComment: 'k = 512; gaussian | rademacher | kronecker | identity',
        checkpointEvery: 2,
      }
    : small
      ? {
          train: 100, test: 50, targets: 50, models: 8, dmModels: 500, ldsModels: 50, epochs: 30, batchSize: 16, lr: 0.1,
          model: '{kind: logreg}', modelComment: 'logreg | mlp ({kind: mlp, hidden: [16]})',
          projector: '{kind: identity}', projectorComment: 'exact gradients: logreg on iris has 15 parameters',
          checkpointEvery: 10,
        }
      : {
          train: 240, test: 60, targets: 60, models: 8, dmModels: 500, ldsModels: 50, epochs: 20, batchSize: 32, lr: 0.05,
          model: '{kind: mlp, hidden: [32]}', modelComment: 'logreg | mlp | cnn (cnn needs image examples)',
          projector: '{kind: gaussian, dim: 128}', projectorComment: 'k = 128; gaussian | rademacher | kronecker | identity',
          checkpointEvery: 5,
        };
  if (data === 'synthetic') Object.assign(base, { train: 1000, test: 200, targets: 100 });
  if (!tiny) return base;
  return {
    ...base,
    train: Math.min(base.train, 80),
    test: Math.min(base.test, 20),
    targets: Math.min(base.targets, 10),
    models: 2,
    dmModels: 24,
    ldsModels: 6,
    epochs: 2,
    model: base.model.replace('[128]', '[16]').replace('[32]', '[8]'),
    projector: base.projector.replace(/dim: \d+/, 'dim: 16'),
    checkpointEvery: 1,
  };
}

/** A path as written in a config: relative, with forward slashes. */
function configPath(from: string, to: string): string {
  return relative(from, to).split(sep).join('/');
}

const inside = (dir: string, path: string) => !relative(dir, path).startsWith('..');

/** Where a file of this checkout is, as seen from `from`: relative inside the checkout, else absolute. */
function repoPath(from: string, to: string): string {
  return inside(ROOT, from) ? configPath(from, to) : to.split(sep).join('/');
}

function dataSection(data: DataName, s: Sizes, cwd: string): string {
  const split = (what: string) => `      train: ${s.train}                  # training examples: the ones attribution scores rank
      test: ${s.test}                    # held-out examples; ${what}`;
  switch (data) {
    case 'mnist':
    case 'fashion-mnist':
      return `  # The data: ${data === 'mnist' ? 'MNIST digits' : 'Fashion-MNIST clothing images'} (28×28, 10 classes; shipped with an npm
  # package, no download). A seeded random split of the pool into train and test;
  # pixels are scaled to [0, 1] (normalize: auto).
  data:
    kind: dataset
    params:
      source: ${data}
${split('the targets come from here')}
      seed: 0                     # split seed: the split stays put when the experiment seed changes`;
    case 'iris':
      return `  # The data: Fisher's iris (150 flowers, 4 measurements, 3 species; shipped with attrib).
  # A seeded random split; features are standardized on the train split (normalize: auto).
  data:
    kind: dataset
    params:
      source: iris
${split('the targets come from here')}
      seed: 0                     # split seed: the split stays put when the experiment seed changes`;
    case 'synthetic':
      return `  # The data: a seeded synthetic classification problem of exactly train + test
  # examples. Labels come from a random linear teacher with noise (temperature), so
  # single examples matter; generator: blobs makes gaussian clusters instead.
  data:
    kind: dataset
    params:
      source: {kind: synthetic, generator: teacher, dim: 20, classes: 3, separation: 4, temperature: 1, seed: 0}
${split('the targets come from here')}`;
    case 'csv':
      return `  # The data: a CSV table, one example per row: a label column and numeric features.
  # Point \`path\` at your own file (paths are relative to the directory you run attrib
  # from). One file is split at random into train and test; to keep your own split,
  # give \`train: FILE\` and \`test: FILE\` instead of \`path\` (and drop the sizes below to
  # use every row). Features are standardized on the train split (normalize: auto).
  data:
    kind: dataset
    params:
      source:
        kind: csv
        path: ${repoPath(cwd, join(EXAMPLE_DATA, 'shapes.csv'))}
        label: label              # the label column: a header name or a 0-based index
        ignore: [id]              # columns that are neither label nor feature
${split('the targets come from here')}
      seed: 0                     # split seed`;
    case 'npy':
      return `  # The data: arrays saved with numpy (np.save), e.g. exported from PyTorch or JAX.
  # x: [n, features] or images [n, H, W], [n, H, W, C] or [n, C, H, W]; y: [n] integer
  # labels 0..classes-1 (int64 is fine). Point them at your own files (paths are relative
  # to the directory you run attrib from); with xTest/yTest the given split is kept.
  data:
    kind: dataset
    params:
      source:
        kind: npy
        x: ${repoPath(cwd, join(EXAMPLE_DATA, 'shapes_x.npy'))}
        y: ${repoPath(cwd, join(EXAMPLE_DATA, 'shapes_y.npy'))}
${split('the targets come from here')}
      seed: 0                     # split seed`;
  }
}

function recipe(s: Sizes): string {
  return `defaults:
  # One training recipe for every train stage (a YAML anchor; stages alias it with
  # *recipe). The ground truth of the LDS must be trained like the models that are
  # attributed, so both use it.
  recipe: &recipe
    model: ${s.model}  # ${s.modelComment}
    fit: {epochs: ${s.epochs}, batchSize: ${s.batchSize}, optimizer: {kind: sgd, lr: ${s.lr}, momentum: 0.9}}`;
}

const GROUND_TRUTH = (s: Sizes) => `  # Evaluation: the linear datamodeling score (LDS). Fresh random halves of the train set,
  # one model trained on each (the ground truth), and for each target the rank
  # correlation between the scores' prediction Σ_{i∈S} τ_i and the actual margin.
  # More subsets give a steadier LDS; \`seeds: 2\` in these models' params averages
  # two trainings per subset and raises the noise ceiling.
  lds_masks:
    kind: subsets
    inputs: {data: data}
    params: {count: ${s.ldsModels}, alpha: 0.5, seed: 1001}   # its own mask seed: never the masks of the attributed models
  lds_models:
    kind: train
    inputs: {data: data, masks: lds_masks}
    params: *recipe`;

const lds = (name: string, scores: string) => `  ${name}:
    kind: lds
    inputs: {scores: ${scores}, models: lds_models}`;

function trakStages(s: Sizes, opts: { checkpoints?: boolean } = {}): string {
  const trainParams = opts.checkpoints ? `{<<: *recipe, checkpoints: {every: ${s.checkpointEvery}}}   # checkpoints: for TracIn` : '*recipe';
  return `  # TRAK. Models trained on random halves of the train set (α = 0.5) ...
  masks:
    kind: subsets
    inputs: {data: data}
    params: {count: ${s.models}, alpha: 0.5}   # more models: better scores, linearly more time
  models:
    kind: train
    inputs: {data: data, masks: masks}
    params: ${trainParams}
  # ... linearized: projected gradients φ = Pᵀ∇θ f of each model's margin f, for every
  # train example and every target ...
  features:
    kind: linearize
    inputs: {models: models}
    params:
      projector: ${s.projector}  # ${s.projectorComment}
      targets: {split: test, count: ${s.targets}}   # the first ${s.targets} test examples
  # ... and the TRAK estimator: τ(x)_i = φ(x)ᵀ(ΦᵀΦ + λI)⁻¹φ_i, averaged over models and
  # reweighted by (1 − p_i). λ relative to the mean diagonal of ΦᵀΦ.
  scores:
    kind: trak
    inputs: {features: features}
    params: {lambda: {relative: 0.2}, topK: 10}   # topK: proponents/opponents per target in top.json`;
}

function datamodelsStages(s: Sizes): string {
  return `  # Datamodels: many models, each trained on a random half of the train set, then for
  # every target a sparse (L1) linear regression of its margin on which examples were
  # in the training set; λ per target chosen on held-out masks. Quality grows with the
  # number of models (thousands in the paper; ${s.dmModels} here).
  dm_masks:
    kind: subsets
    inputs: {data: data}
    params: {count: ${s.dmModels}, alpha: 0.5}
  dm_models:
    kind: train
    inputs: {data: data, masks: dm_masks}
    params: *recipe
  datamodels:
    kind: datamodels
    inputs: {models: dm_models}
    params:
      targets: {split: test, count: ${s.targets}}   # the first ${s.targets} test examples
      heldOut: 0.1                # fraction of the masks used to choose λ
      path: 20                    # λ values tried per target`;
}

function baselines(s: Sizes): string {
  return `  # Baselines on the same features (one linearization, several estimators) ...
  graddot:
    kind: graddot
    inputs: {features: features}
  gradcos:
    kind: gradcos
    inputs: {features: features}
  # ... and TracIn: gradient dot products at the checkpoints the models saved, weighted
  # by the learning rate.
  tracin:
    kind: tracin
    inputs: {models: models}
    params:
      projector: ${s.projector}
      targets: {split: test, count: ${s.targets}}`;
}

const TITLE: Record<Method, string> = {
  trak: 'TRAK',
  datamodels: 'Datamodels',
  compare: 'TRAK and three baselines (gradient dot product, gradient cosine, TracIn)',
};

const DATA_LABEL: Record<DataName, string> = {
  mnist: 'MNIST',
  'fashion-mnist': 'Fashion-MNIST',
  iris: 'iris',
  synthetic: 'synthetic data',
  csv: 'a CSV table',
  npy: '.npy arrays',
};

/** The header's command lines, their explanations aligned. */
function commands(shown: string): string {
  const rows: [string, string][] = [
    [`npx attrib plan ${shown}`, 'what will run, and why'],
    [`npx attrib run ${shown}`, 'run it (cached: running it again only does what is missing)'],
    ['npx attrib kinds NAME', 'every param of a stage kind, with its default'],
  ];
  const width = Math.max(...rows.map(([c]) => c.length));
  return rows.map(([c, what]) => `#   ${c.padEnd(width)}   ${what}`).join('\n');
}

/** The starter config's text. */
export function renderStarter(options: StarterOptions): string {
  const { data, method } = options;
  const tiny = !!options.tiny;
  const cwd = options.cwd ?? process.cwd();
  const s = sizes(data, tiny);
  const out = options.out;
  const name = `${data}-${method}${tiny ? '-tiny' : ''}`;
  const shown = configPath(cwd, out);
  const schema = inside(ROOT, out) ? configPath(dirname(out), SCHEMA_FILE) : pathToFileURL(SCHEMA_FILE).href;
  const methodStages =
    method === 'trak'
      ? [trakStages(s), GROUND_TRUTH(s), lds('lds', 'scores')]
      : method === 'datamodels'
        ? [datamodelsStages(s), GROUND_TRUTH(s), lds('lds', 'datamodels')]
        : [
            trakStages(s, { checkpoints: true }),
            baselines(s),
            GROUND_TRUTH(s),
            [
              '  # One LDS per method, all against the same ground-truth models.',
              lds('lds_trak', 'scores'),
              lds('lds_graddot', 'graddot'),
              lds('lds_gradcos', 'gradcos'),
              lds('lds_tracin', 'tracin'),
            ].join('\n'),
          ];
  const header = `# yaml-language-server: $schema=${schema}
# ${TITLE[method]} on ${DATA_LABEL[data]},
# scored by the linear datamodeling score (LDS).
# Written by \`attrib init --data ${data} --method ${method}${tiny ? ' --tiny' : ''}\`${tiny ? '\n# Tiny sizes: a smoke test that runs in seconds; drop --tiny for real sizes.' : ''}
#
${commands(shown)}
#
# Each stage below names its kind, the stages it reads (inputs) and its params;
# params left out take their defaults (\`attrib kinds NAME\` lists them).
# Try a change without editing the file: --set defaults.recipe.fit.epochs=3`;
  const body = [
    header,
    `name: ${name}`,
    `seed: 0                           # every stage's randomness derives from it`,
    `backend: auto                     # auto | wasm | cpu | tensorflow | tensorflow-gpu`,
    '',
    recipe(s),
    '',
    'stages:',
    [dataSection(data, s, cwd), ...methodStages].join('\n\n'),
  ].join('\n');
  return `${alignComments(body)}\n`;
}

/** Trailing `# comments` of YAML lines start in one column (or 2 spaces after a long line). */
export function alignComments(text: string, column = 36): string {
  return text
    .split('\n')
    .map((line) => {
      const m = /^(\s*[^#\s].*?)\s{2,}(# .*)$/.exec(line);
      if (!m) return line;
      const [, content, comment] = m;
      return `${content!.padEnd(Math.max(column, content!.length + 2))}${comment}`;
    })
    .join('\n');
}
