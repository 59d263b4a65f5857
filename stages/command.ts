/**
 * Command stages: any program (a PyTorch script, a JAX job, a binary) does a stage's
 * work, and attrib checks what it wrote against the artifact contract
 * (docs/artifacts.md, lib/artifacts.ts) before anything enters the store.
 *
 *   command-models    (inputs data, masks)  -> models     one run per model m = mask·seeds + seed
 *   command-features  (input models)        -> features   one run per model s
 *   command-scores    (inputs data, models?, features?) -> scores   one run
 *
 *   params: {command: [program, args...], env?, files?, timeout?, per?, ...}
 *
 * Why one kind per artifact kind rather than one `command` kind with an `output:` param:
 * a kind's `output` is what validation, `attrib kinds`, the JSON schema and the docs read
 * without params, and each artifact kind needs its own inputs (masks for models, models
 * for features, targets for scores) and its own check. One factory builds all three.
 *
 * Arguments and env values are templates: ${out} (the folder to write into), ${index}
 * and ${count} (the unit), ${seed} (the unit's 32-bit seed, derived from the experiment
 * seed, the stage hash and the unit), ${experiment_seed}, ${input.NAME} (an input's
 * store folder) and per kind: ${mask}, ${seed_index}, ${mask_file} (models); ${model},
 * ${model_dir} (features: the models input's units/<s>/), ${data} (features: the
 * data set the models were trained on); ${target_index} (features,
 * scores: an int32 .npy of the targets' test-split indices). Every variable is also in
 * the environment as ATTRIB_<NAME> (ATTRIB_OUT, ATTRIB_MASK_FILE, ATTRIB_INPUT_DATA...).
 * The program runs without a shell, in attrib's working directory; relative paths in
 * params are relative to it too.
 *
 * The content of the files the command names (arguments that are existing files, the
 * program itself when it is a relative path, and `files:`) is part of the stage hash
 * (`fingerprint`), so editing train.py re-runs the stage and what depends on it.
 *
 * stdout and stderr go to runs/command-logs/<hash>/<unit>.log, outside the store (a log
 * is not part of the artifact: the bytes of the store do not depend on where a unit
 * ran). A non-zero exit fails the unit with the last line of stderr; `timeout` kills it;
 * retries are the executor's (`attempts` of bullmq and SLURM). A unit's folder is the
 * engine's staging folder, so a failed check leaves nothing behind.
 */
import { accessSync, constants, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { defineStage, ParamsError, type Artifact, type InputSpec, type StageContext, type StageKind, type UnitContext } from '../pipeline/registry.ts';
import { FEATURES, MASKS, MODELS, SCORES } from '../lib/artifacts.ts';
import { checkArrays, ContractError, type ArrayContract } from '../lib/artifact-check.ts';
import { datasetMeta, resolveTargets, targetsParams } from '../lib/attribution/featurize.ts';
import { dataOf } from './inputs.ts';
import type { FeaturesMeta } from '../lib/attribution/features.ts';
import { topK, type TargetTop } from '../lib/attribution/scores.ts';
import { fileFingerprint, resolvePath } from '../lib/data/source.ts';
import { writeJsonAtomic } from '../lib/io/json.ts';
import { NpyWriter, readNpy, readNpyChunks, readNpyHeader, readNpyRows, rowsForBytes, writeNpy } from '../lib/io/npy.ts';
import { runProgram } from '../lib/run-program.ts';

const VARIABLE = /\$\{([a-z_]+(?:\.[a-z][a-z0-9_-]*)?)\}/g;

const baseShape = {
  command: z.array(z.string().min(1)).min(1).describe('the program and its arguments, an argv array (no shell); ${...} variables are filled in per unit'),
  env: z.record(z.string(), z.string()).default({}).describe('environment variables added for the program (templated like the arguments)'),
  files: z.array(z.string().min(1)).default([]).describe('further files whose content is part of the stage hash (modules the script imports, a config file)'),
  timeout: z.number().positive().optional().describe('seconds a run may take before it is killed (its unit fails)'),
};

type Base = { command: string[]; env: Record<string, string>; files: string[]; timeout?: number };

/** What differs between the artifact kinds a command can produce. */
interface Output<P extends Base> {
  output: 'models' | 'features' | 'scores';
  description: string;
  equation: string;
  inputs: Record<string, InputSpec>;
  shape: z.ZodRawShape;
  /** Variables of this kind beyond the common ones. */
  variables: (params: P) => string[];
  units: (ctx: StageContext<P>) => number;
  /** Per-unit variables and their files (written into `scratch`). */
  unitVariables?: (ctx: UnitContext<P>, scratch: string) => Record<string, string>;
  checkUnit?: (ctx: UnitContext<P>) => void;
  combine?: (ctx: StageContext<P> & { count: number; unitDir(i: number): string }) => Record<string, number | string>;
  onceVariables?: (ctx: StageContext<P>, scratch: string) => Record<string, string>;
  finishOnce?: (ctx: StageContext<P>) => Record<string, number | string>;
}

const COMMON = ['out', 'index', 'count', 'seed', 'experiment_seed'];

/** Checks every ${...} in the command and env names a variable this kind provides. */
function checkTemplates(p: Base, known: Set<string>, inputs: string[], ctx: z.RefinementCtx): void {
  const check = (text: string, path: (string | number)[]) => {
    for (const [, name] of text.matchAll(VARIABLE)) {
      const ok = name.startsWith('input.') ? inputs.includes(name.slice(6)) : known.has(name);
      if (!ok) ctx.addIssue({ code: 'custom', path, message: `unknown variable \${${name}}: expected one of ${[...known, ...inputs.map((i) => `input.${i}`)].map((v) => `\${${v}}`).join(', ')}` });
    }
  };
  p.command.forEach((a, i) => check(a, ['command', i]));
  for (const [k, v] of Object.entries(p.env)) check(v, ['env', k]);
}

function fill(text: string, vars: Record<string, string>): string {
  return text.replace(VARIABLE, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`\${${name}} has no value here`);
    return v;
  });
}

/** The files whose content the stage hash covers, with a ParamsError where one is missing. */
function scriptFiles(p: Base): { file: string; sha256: string }[] {
  const named: { path: string; at: (string | number)[] }[] = [];
  const program = p.command[0]!;
  if (program.includes('/')) {
    const full = resolvePath(program);
    if (!existsSync(full)) throw new ParamsError(`cannot find the program ${program}${full !== program ? ` (${full})` : ''}`, ['command', 0]);
    try {
      accessSync(full, constants.X_OK);
    } catch {
      throw new ParamsError(`${program} is not executable (chmod +x ${program}, or name its interpreter first: [bash, ${program}])`, ['command', 0]);
    }
    // A relative program is the user's script; an absolute one (/usr/bin/python3) is the system's.
    if (!program.startsWith('/')) named.push({ path: program, at: ['command', 0] });
  }
  p.command.slice(1).forEach((arg, i) => {
    if (arg.includes('${') || arg.startsWith('-')) return; // templated per unit, or a flag
    const full = resolvePath(arg);
    if (existsSync(full) && statSync(full).isFile()) named.push({ path: arg, at: ['command', i + 1] });
  });
  p.files.forEach((f, i) => named.push({ path: f, at: ['files', i] }));
  return named.map(({ path, at }) => {
    try {
      return { file: path, sha256: fileFingerprint(String(at[at.length - 1]), path) };
    } catch (e) {
      throw new ParamsError((e as Error).message, at);
    }
  });
}

/** The experiment seed, from the entry's stage.json (the unit API passes only derived seeds). */
function experimentSeed(dir: string): string {
  try {
    return String((JSON.parse(readFileSync(join(dir, 'stage.json'), 'utf8')) as { seed: number }).seed);
  } catch {
    return 'unknown';
  }
}

/** runs/command-logs/<hash>/<name>.log: beside the store, not in it. */
function logPath(ctx: StageContext, name: string): string {
  return join(dirname(dirname(ctx.dir)), 'command-logs', ctx.hash, `${name}.log`);
}

function commonVariables(ctx: StageContext, out: string): Record<string, string> {
  const vars: Record<string, string> = { out, seed: String(ctx.seed), experiment_seed: experimentSeed(ctx.dir) };
  for (const [name, a] of Object.entries(ctx.inputs)) vars[`input.${name}`] = a.dir;
  return vars;
}

async function runCommand(ctx: StageContext<Base>, vars: Record<string, string>, log: string): Promise<void> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(vars)) env[`ATTRIB_${k.replace('.', '_').toUpperCase()}`] = v;
  for (const [k, v] of Object.entries(ctx.params.env)) env[k] = fill(v, vars);
  await runProgram({ argv: ctx.params.command.map((a) => fill(a, vars)), env, log, timeout: ctx.params.timeout });
}

/** Runs the program, then the check; a failure of either is one line naming the unit's log. */
async function runChecked(ctx: StageContext<Base>, vars: Record<string, string>, name: string, check: () => void): Promise<void> {
  const log = logPath(ctx, name);
  await runCommand(ctx, vars, log);
  try {
    check();
  } catch (e) {
    if (e instanceof ContractError) throw new ContractError(`${e.message} (log: ${log})`);
    throw e;
  }
}

function defineCommand<P extends Base>(o: Output<P>): StageKind<P> {
  const schema = () =>
    z.strictObject({ ...baseShape, ...o.shape }).superRefine((p, ctx) => {
      const known = new Set([...COMMON, ...o.variables(p as unknown as P)]);
      checkTemplates(p as Base, known, Object.keys(o.inputs), ctx);
    }) as unknown as z.ZodType<P>;
  const common = {
    name: `command-${o.output}`,
    version: '1',
    description: o.description,
    equation: o.equation,
    get params() {
      return schema();
    },
    inputs: o.inputs,
    output: o.output,
    fingerprint: (params: P) => scriptFiles(params),
  };
  // A kind without per-model units (scores) runs once: as one unit, so it goes wherever units go.
  const per = (p: P) => (p as P & { per?: string }).per ?? 'once';
  return defineStage<P>({
    ...common,
    units: (ctx) => (per(ctx.params) === 'once' ? 1 : o.units(ctx)),
    async runUnit(ctx) {
      const scratch = mkdtempSync(join(tmpdir(), 'attrib-command-'));
      try {
        if (per(ctx.params) === 'once') {
          let metrics: Record<string, number | string> = {};
          await runChecked(ctx, { ...commonVariables(ctx, ctx.outDir), index: '0', count: '1', ...o.onceVariables!(ctx, scratch) }, 'run', () => (metrics = o.finishOnce!(ctx)));
          return { metrics, info: { command: ctx.params.command } };
        }
        const vars = { ...commonVariables(ctx, ctx.outDir), index: String(ctx.index), count: String(ctx.count), ...o.unitVariables!(ctx, scratch) };
        await runChecked(ctx, vars, `unit-${ctx.index}`, () => o.checkUnit!(ctx));
        return { info: { command: ctx.params.command } };
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    async combine(ctx) {
      if (per(ctx.params) !== 'once') return { metrics: o.combine!(ctx), info: { command: ctx.params.command } };
      // per: once ran as unit 0 (so timeouts and retries work as for any unit) and wrote
      // the whole artifact there: link its files up (a copy where links are refused).
      linkTree(ctx.unitDir(0), ctx.outDir, (name) => name !== 'unit.json');
      return { metrics: ctx.unitOutcomes[0]?.metrics as Record<string, number | string>, info: { command: ctx.params.command } };
    },
  });
}

/** Hard-links (else copies) every file under `from` into `to`, keeping the tree. */
function linkTree(from: string, to: string, keep: (name: string) => boolean = () => true): void {
  for (const d of readdirSync(from, { withFileTypes: true })) {
    if (!keep(d.name)) continue;
    const src = join(from, d.name);
    const dst = join(to, d.name);
    if (d.isDirectory()) {
      mkdirSync(dst, { recursive: true });
      linkTree(src, dst);
    } else linkOrCopy(src, dst);
  }
}

// ---------------------------------------------------------------------------------------
// models

type ModelsParams = Base & { per: 'model' | 'once'; seeds: number };

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function maskCount(masks: Artifact): number {
  return readNpyHeader(join(masks.dir, MASKS.masks)).shape[0];
}

function splitSizes(data: Artifact): { nTrain: number; nTest: number } {
  const meta = datasetMeta(data.dir);
  return { nTrain: meta.nTrain, nTest: meta.nTest };
}

const modelUnitContract: ArrayContract[] = [
  { file: MODELS.unit.marginsTrain, dtype: 'float32', shape: ['nTrain'] },
  { file: MODELS.unit.marginsTest, dtype: 'float32', shape: ['nTest'] },
  { file: MODELS.unit.probsTrain, dtype: 'float32', shape: ['nTrain'], range: [0, 1], optional: true },
  { file: MODELS.unit.probsTest, dtype: 'float32', shape: ['nTest'], range: [0, 1], optional: true },
];

const modelsContract: ArrayContract[] = [
  { file: MODELS.marginsTrain, dtype: 'float32', shape: ['models', 'nTrain'] },
  { file: MODELS.marginsTest, dtype: 'float32', shape: ['models', 'nTest'] },
  { file: MODELS.probsTrain, dtype: 'float32', shape: ['models', 'nTrain'], range: [0, 1], optional: true },
  { file: MODELS.probsTest, dtype: 'float32', shape: ['models', 'nTest'], range: [0, 1], optional: true },
];

/** Writes σ(margins) as `probs` when the program did not write it (p = σ(f), the contract's definition). */
function probsFromMargins(dir: string, margins: string, probs: string): void {
  if (existsSync(join(dir, probs))) return;
  const m = readNpy(join(dir, margins));
  writeNpy(join(dir, probs), { dtype: 'float32', shape: m.shape, data: Float32Array.from(m.data as Float32Array, sigmoid) });
}

/** fit.json of a unit, if the program wrote one (accuracies are optional). */
function fitRecord(dir: string): { trainAccuracy?: number; testAccuracy?: number } {
  const path = join(dir, MODELS.unit.meta);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { trainAccuracy?: number; testAccuracy?: number };
  } catch (e) {
    throw new ContractError(`${MODELS.unit.meta} is not JSON: ${(e as Error).message}`);
  }
}

function writeModelsMeta(ctx: StageContext<ModelsParams>, count: number, fits: { trainAccuracy?: number; testAccuracy?: number }[]): Record<string, number | string> {
  const { nTrain, nTest } = splitSizes(ctx.inputs.data);
  const seeds = ctx.params.seeds;
  writeNpy(join(ctx.outDir, MODELS.maskOf), Int32Array.from({ length: count }, (_, m) => Math.floor(m / seeds)));
  writeNpy(join(ctx.outDir, MODELS.seedOf), Int32Array.from({ length: count }, (_, m) => m % seeds));
  const trainAccuracy = fits.map((f) => f.trainAccuracy ?? null);
  const testAccuracy = fits.map((f) => f.testAccuracy ?? null);
  writeJsonAtomic(join(ctx.outDir, MODELS.meta), { models: count, seeds, masks: count / seeds, nTrain, nTest, trainAccuracy, testAccuracy, checkpoints: [], command: ctx.params.command });
  const mean = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number');
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  const metrics: Record<string, number | string> = { models: count, masks: count / seeds, seeds };
  if (!Number.isNaN(mean(testAccuracy))) metrics.testAccuracy = mean(testAccuracy);
  if (!Number.isNaN(mean(trainAccuracy))) metrics.trainAccuracy = mean(trainAccuracy);
  return metrics;
}

export const commandModels = defineCommand<ModelsParams>({
  output: 'models',
  description: 'trains models with any program (a PyTorch script...), one run per (mask, seed); attrib checks the margins it writes',
  equation: 'run m = mask·seeds + seed writes margins f(z_i; θ_m) over both splits; probs = σ(margins) unless written',
  inputs: {
    data: { kinds: ['dataset'], description: 'the data set (its folder is ${input.data}: x_train.npy, y_train.npy, ...)' },
    masks: { kinds: ['masks'], description: 'which train examples each model sees (${mask_file} per run)' },
  },
  shape: {
    per: z.enum(['model', 'once']).default('model').describe('model: one run per (mask, seed), each writing margins_train.npy [nTrain] and margins_test.npy [nTest] into ${out}; once: one run writing [models, n] arrays'),
    seeds: z.number().int().positive().default(1).describe('models per mask (${seed_index} = 0..seeds-1)'),
  },
  variables: (p) => (p.per === 'once' ? ['masks_file', 'seeds'] : ['mask', 'seed_index', 'mask_file', 'masks_file', 'seeds']),
  units: (ctx) => maskCount(ctx.inputs.masks) * ctx.params.seeds,
  unitVariables(ctx, scratch) {
    const mask = Math.floor(ctx.index / ctx.params.seeds);
    const maskFile = join(scratch, 'mask.npy');
    writeNpy(maskFile, readNpyRows(join(ctx.inputs.masks.dir, MASKS.masks), mask, mask + 1).data as Uint8Array);
    return { mask: String(mask), seed_index: String(ctx.index % ctx.params.seeds), mask_file: maskFile, masks_file: join(ctx.inputs.masks.dir, MASKS.masks), seeds: String(ctx.params.seeds) };
  },
  checkUnit(ctx) {
    checkArrays(ctx.outDir, modelUnitContract, splitSizes(ctx.inputs.data), `model ${ctx.index}`);
    fitRecord(ctx.outDir);
  },
  combine(ctx) {
    const { nTrain, nTest } = splitSizes(ctx.inputs.data);
    const u = MODELS.unit;
    const shapes = { marginsTrain: nTrain, marginsTest: nTest, probsTrain: nTrain, probsTest: nTest };
    const writers = Object.fromEntries(Object.entries(shapes).map(([k, n]) => [k, new NpyWriter(join(ctx.outDir, MODELS[k as keyof typeof shapes]), 'float32', [n])])) as Record<keyof typeof shapes, NpyWriter>;
    const fits = [];
    try {
      for (let m = 0; m < ctx.count; m++) {
        const dir = ctx.unitDir(m);
        const margins = { train: readNpy(join(dir, u.marginsTrain)).data as Float32Array, test: readNpy(join(dir, u.marginsTest)).data as Float32Array };
        writers.marginsTrain.append(margins.train);
        writers.marginsTest.append(margins.test);
        const probs = (file: string, from: Float32Array) => (existsSync(join(dir, file)) ? (readNpy(join(dir, file)).data as Float32Array) : Float32Array.from(from, sigmoid));
        writers.probsTrain.append(probs(u.probsTrain, margins.train));
        writers.probsTest.append(probs(u.probsTest, margins.test));
        fits.push(fitRecord(dir));
      }
      for (const w of Object.values(writers)) w.close();
    } catch (e) {
      for (const w of Object.values(writers)) w.abort();
      throw e;
    }
    return writeModelsMeta(ctx, ctx.count, fits);
  },
  onceVariables: (ctx) => ({ masks_file: join(ctx.inputs.masks.dir, MASKS.masks), seeds: String(ctx.params.seeds) }),
  finishOnce(ctx) {
    const models = maskCount(ctx.inputs.masks) * ctx.params.seeds;
    checkArrays(ctx.outDir, modelsContract, { ...splitSizes(ctx.inputs.data), models }, 'command-models');
    probsFromMargins(ctx.outDir, MODELS.marginsTrain, MODELS.probsTrain);
    probsFromMargins(ctx.outDir, MODELS.marginsTest, MODELS.probsTest);
    return writeModelsMeta(ctx, models, Array.from({ length: models }, () => ({})));
  },
});

// ---------------------------------------------------------------------------------------
// features

type FeaturesParams = Base & { per: 'model' | 'once'; targets: z.infer<typeof targetsParams>; projector: string };

function featuresPlan(ctx: StageContext<FeaturesParams>): { models: number; nTrain: number; targets: Int32Array } {
  const models = ctx.inputs.models;
  const meta = datasetMeta(dataOf(models, 'command-features').dir);
  const count = (JSON.parse(readFileSync(join(models.dir, MODELS.meta), 'utf8')) as { models: number }).models;
  return { models: count, nTrain: meta.nTrain, targets: resolveTargets(ctx.params.targets, meta.nTest, 'command-features') };
}

/** Files of one features unit (model s), inside ${out}. */
export const FEATURES_UNIT = { train: 'train.npy', targets: 'targets.npy', probsTrain: 'probs_train.npy' } as const;

function featuresUnitContract(): ArrayContract[] {
  return [
    { file: FEATURES_UNIT.train, dtype: 'float32', shape: ['nTrain', 'k'] },
    { file: FEATURES_UNIT.targets, dtype: 'float32', shape: ['nTargets', 'k'] },
    { file: FEATURES_UNIT.probsTrain, dtype: 'float32', shape: ['nTrain'], range: [0, 1] },
  ];
}

function featuresContract(models: number): ArrayContract[] {
  const perModel = Array.from({ length: models }, (_, s): ArrayContract[] => [
    { file: FEATURES.train(s), dtype: 'float32', shape: ['nTrain', 'k'] },
    { file: FEATURES.targets(s), dtype: 'float32', shape: ['nTargets', 'k'] },
  ]).flat();
  return [...perModel, { file: FEATURES.probsTrain, dtype: 'float32', shape: ['models', 'nTrain'], range: [0, 1] }];
}

function writeFeaturesMeta(ctx: StageContext<FeaturesParams>, plan: ReturnType<typeof featuresPlan>, k: number): Record<string, number | string> {
  writeNpy(join(ctx.outDir, FEATURES.targetIndex), plan.targets);
  const meta: FeaturesMeta = {
    models: plan.models,
    k,
    // The program's own projection: attrib records what the params say it is.
    projector: { kind: ctx.params.projector, dim: k, seed: 0 } as unknown as FeaturesMeta['projector'],
    perModel: true,
    nTrain: plan.nTrain,
    nTargets: plan.targets.length,
    layers: [],
    params: 0,
  };
  writeJsonAtomic(join(ctx.outDir, FEATURES.meta), { ...meta, command: ctx.params.command });
  return { models: plan.models, k, train: plan.nTrain, targets: plan.targets.length, projector: ctx.params.projector };
}

function targetFile(scratch: string, targets: Int32Array): string {
  const path = join(scratch, 'target_index.npy');
  writeNpy(path, targets);
  return path;
}

export const commandFeatures = defineCommand<FeaturesParams>({
  output: 'features',
  description: 'per-example features (projected gradients) from any program, one run per model; attrib checks shapes and values',
  equation: 'run s writes φ_{s,i} (train [nTrain, k]), φ_s(x_j) (targets [nTargets, k]) and p_{s,i} = σ(f(z_i; θ_s)) [nTrain]',
  inputs: { models: { kinds: ['models'], description: 'the models to featurize (model s\'s own files are in ${model_dir}); the data set is reached through its data input' } },
  shape: {
    per: z.enum(['model', 'once']).default('model').describe('model: one run per model s writing train.npy, targets.npy, probs_train.npy into ${out}; once: one run writing train_<s>.npy, targets_<s>.npy and probs_train.npy [models, nTrain]'),
    targets: targetsParams,
    projector: z.string().min(1).default('external').describe('the projection the program applies, recorded in features.json (identity: exact gradients, which influence requires)'),
  },
  variables: (p) => (p.per === 'once' ? ['data', 'target_index', 'models'] : ['data', 'model', 'model_dir', 'target_index', 'models']),
  units: (ctx) => featuresPlan(ctx).models,
  unitVariables(ctx, scratch) {
    const plan = featuresPlan(ctx);
    return { data: dataOf(ctx.inputs.models, 'command-features').dir, model: String(ctx.index), model_dir: join(ctx.inputs.models.dir, 'units', String(ctx.index)), target_index: targetFile(scratch, plan.targets), models: String(plan.models) };
  },
  checkUnit(ctx) {
    const plan = featuresPlan(ctx);
    checkArrays(ctx.outDir, featuresUnitContract(), { nTrain: plan.nTrain, nTargets: plan.targets.length }, `model ${ctx.index}`);
  },
  combine(ctx) {
    const plan = featuresPlan(ctx);
    const dims: Record<string, number> = { nTrain: plan.nTrain, nTargets: plan.targets.length };
    // Every model's k must agree: the first binds it.
    for (let s = 0; s < ctx.count; s++) checkArrays(ctx.unitDir(s), featuresUnitContract().slice(0, 2), dims, `model ${s}`);
    const probs = new NpyWriter(join(ctx.outDir, FEATURES.probsTrain), 'float32', [plan.nTrain]);
    try {
      for (let s = 0; s < ctx.count; s++) {
        const dir = ctx.unitDir(s);
        linkOrCopy(join(dir, FEATURES_UNIT.train), join(ctx.outDir, FEATURES.train(s)));
        linkOrCopy(join(dir, FEATURES_UNIT.targets), join(ctx.outDir, FEATURES.targets(s)));
        probs.append(readNpy(join(dir, FEATURES_UNIT.probsTrain)).data);
      }
      probs.close(ctx.count);
    } catch (e) {
      probs.abort();
      throw e;
    }
    return writeFeaturesMeta(ctx, plan, dims.k!);
  },
  onceVariables(ctx, scratch) {
    const plan = featuresPlan(ctx);
    return { data: dataOf(ctx.inputs.models, 'command-features').dir, target_index: targetFile(scratch, plan.targets), models: String(plan.models) };
  },
  finishOnce(ctx) {
    const plan = featuresPlan(ctx);
    const dims = checkArrays(ctx.outDir, featuresContract(plan.models), { nTrain: plan.nTrain, nTargets: plan.targets.length, models: plan.models }, 'command-features');
    return writeFeaturesMeta(ctx, plan, dims.k!);
  },
});

function linkOrCopy(src: string, dst: string): void {
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
}

// ---------------------------------------------------------------------------------------
// scores

type ScoresParams = Base & { targets: z.infer<typeof targetsParams>; topK: number; method: string };

function scoresPlan(ctx: StageContext<ScoresParams>): { nTrain: number; targets: Int32Array } {
  const meta = datasetMeta(ctx.inputs.data.dir);
  return { nTrain: meta.nTrain, targets: resolveTargets(ctx.params.targets, meta.nTest, 'command-scores') };
}

/** top.json and scores.json beside a scores.npy, read in row blocks. */
export function completeScores(dir: string, targets: Int32Array, k: number, info: Record<string, unknown>): Record<string, number | string> {
  const path = join(dir, SCORES.scores);
  const h = readNpyHeader(path);
  const [nTargets, nTrain] = h.shape as [number, number];
  const top: TargetTop[] = [];
  for (const { start, end, array } of readNpyChunks(path, rowsForBytes(h, 16 << 20))) {
    const data = array.data as Float32Array;
    for (let r = 0; r < end - start; r++) top.push({ target: targets[start + r]!, ...topK(data.subarray(r * nTrain, (r + 1) * nTrain), k) });
  }
  writeNpy(join(dir, SCORES.targetIndex), targets);
  writeJsonAtomic(join(dir, SCORES.top), top);
  writeJsonAtomic(join(dir, SCORES.meta), { ...info, nTargets, nTrain, topK: k });
  return { targets: nTargets, train: nTrain };
}

export const commandScores = defineCommand<ScoresParams>({
  output: 'scores',
  description: 'attribution scores from any program, in one run; attrib checks the [targets, train] matrix and writes top.json',
  equation: 'the run writes τ(x_j)_i as scores.npy float32 [nTargets, nTrain]',
  inputs: {
    data: { kinds: ['dataset'], description: 'the data set the scores are about (its sizes are checked)' },
    models: { kinds: ['models'], optional: true, description: 'models the program reads (${input.models})' },
    features: { kinds: ['features'], optional: true, description: 'features the program reads (${input.features})' },
  },
  shape: {
    targets: targetsParams,
    topK: z.number().int().nonnegative().default(10).describe('proponents and opponents per target in top.json'),
    method: z.string().min(1).default('command').describe('the method name recorded in scores.json'),
  },
  variables: () => ['target_index'],
  units: () => 1,
  onceVariables: (ctx, scratch) => ({ target_index: targetFile(scratch, scoresPlan(ctx).targets) }),
  finishOnce(ctx) {
    const plan = scoresPlan(ctx);
    checkArrays(ctx.outDir, [{ file: SCORES.scores, dtype: 'float32', shape: ['nTargets', 'nTrain'] }], { nTargets: plan.targets.length, nTrain: plan.nTrain }, 'command-scores');
    return completeScores(ctx.outDir, plan.targets, ctx.params.topK, { method: ctx.params.method, command: ctx.params.command });
  },
});

export const commandKinds = [commandModels, commandFeatures, commandScores];
