/**
 * The LDS benchmark runner. For each bench/lds config it runs, through the attrib CLI
 * and one store (so everything shared is computed once):
 *   1. the config's dataset/subsets/train stages (all models, ground truth included);
 *   2. each `lds` stage with its upstream only, as its own `attrib run`, one after the
 *      other, so one method's wall-clock seconds are not mixed with another's;
 * then prints a markdown table: LDS with its bootstrap interval, the seconds of the
 * method's own stages (featurize, solve, score) and the training seconds of the models
 * it used (secondsPerModel × models, as train measures them per unit).
 *
 *   npm run bench:lds                            run all configs, print the table
 *   npm run bench:lds -- --report                only read what the store has
 *   npm run bench:lds -- --fresh                 re-run every method's own stages (--force)
 *   npm run bench:lds -- --write                 also put the table into BENCHMARKS.md
 *   npm run bench:lds -- --configs mnist-lr,mnist-mlp --jobs 2 --runs runs/bench-lds
 *
 * Seconds are those the store manifests recorded when each stage ran (a stage resumed
 * after a kill shows only its last run's time; --fresh runs them all again). The header
 * records the machine, the date and the load average, since a busy machine stretches
 * every figure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { MODELS } from '../../lib/artifacts.ts';
import { readNpy } from '../../lib/io/npy.ts';
import { spearman } from '../../lib/linalg/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ALL = ['mnist-lr', 'mnist-mlp', 'mnist-lr-datamodels', 'mnist-mlp-dense', 'mnist-mlp-lambda', 'mnist-mlp-gt5'];
const BEGIN = '<!-- bench:lds:table:begin -->';
const END = '<!-- bench:lds:table:end -->';
/** Stage kinds that make models, not attributions. */
const MODEL_KINDS = new Set(['dataset', 'subsets', 'train']);

interface Manifest {
  kind: string;
  params: Record<string, any>;
  inputs: Record<string, string>;
  seconds: number;
  metrics: Record<string, number | string | boolean | null>;
  finished: string;
}
interface RunEntry { hash: string; status: string; seconds: number }
type RunRecord = Record<string, RunEntry>;
interface Config { name: string; stages: Record<string, { kind: string; inputs?: Record<string, string> }>; [key: string]: unknown }

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const runsArg = option('runs', 'runs/bench-lds');
const runs = resolve(root, runsArg);
const jobs = option('jobs', '2');
const configs = option('configs', ALL.join(',')).split(',').filter(Boolean);

function manifest(hash: string): Manifest {
  return JSON.parse(readFileSync(join(runs, 'store', hash, 'manifest.json'), 'utf8')) as Manifest;
}

/** Every upstream store entry of `hash` (itself included), each once. */
function closure(hash: string, seen = new Map<string, Manifest>()): Map<string, Manifest> {
  if (seen.has(hash)) return seen;
  const m = manifest(hash);
  seen.set(hash, m);
  for (const h of Object.values(m.inputs)) closure(h, seen);
  return seen;
}

const MODEL_NAMES: Record<string, string> = { logreg: 'LR', mlp: 'MLP', cnn: 'CNN' };
const METHOD_NAMES: Record<string, string> = { graddot: 'Grad-Dot', gradcos: 'Grad-Cos', tracin: 'TracIn', influence: 'Influence (exact)' };

function describe(scoresHash: string): { model: string; method: string; projector: string } {
  const s = manifest(scoresHash);
  const up = [...closure(scoresHash).values()];
  const train = up.find((m) => m.kind === 'train');
  const features = up.find((m) => m.kind === 'linearize');
  const models = Number(train?.metrics.models ?? 0);
  const kind = String(train?.params.model?.kind ?? '?');
  const hidden = train?.params.model?.hidden as number[] | undefined;
  const model = `${MODEL_NAMES[kind] ?? kind}${hidden ? ` ${hidden.join('-')}` : ''}`;
  const proj = (features?.params.projector ?? s.params.projector) as { kind: string; dim?: number } | undefined;
  const projector = !proj ? '–' : proj.kind === 'identity' ? 'none (exact gradients)' : `${proj.kind}, k = ${proj.dim}`;
  let method = `${METHOD_NAMES[s.kind] ?? s.kind}, ${models} model${models === 1 ? '' : 's'}`;
  if (s.kind === 'trak') {
    const l = s.params.lambda as number | { relative: number };
    method = `TRAK-${models}, λ ${typeof l === 'number' ? l : `${l.relative}·mean diag`}`;
  }
  if (s.kind === 'datamodels') method = `Datamodels, ${models} models`;
  if (s.kind === 'influence') {
    // The Hessian used (metrics.hessian: `auto` resolved); version 1 entries had only the margin Gauss-Newton one.
    const hessian = String(s.metrics.hessian ?? s.params.hessian ?? 'margin');
    const d = s.params.damping as number | { relative: number } | undefined;
    const damping = d === undefined ? '' : `, d ${typeof d === 'number' ? d : `${d.relative}·mean diag`}`;
    method = `Influence (exact, ${hessian === 'margin' ? 'margin GN' : hessian} Hessian${damping}), ${models} model${models === 1 ? '' : 's'}`;
  }
  return { model, method, projector };
}

/** Wall seconds of the method's own stages (manifests) and compute seconds of training its models (secondsPerModel × models). */
function seconds(scoresHash: string): { method: number; training: number } {
  let method = 0;
  let training = 0;
  for (const m of closure(scoresHash).values()) {
    if (m.kind === 'train') training += Number(m.metrics.secondsPerModel ?? 0) * Number(m.metrics.models ?? 0);
    // Elapsed seconds: `metrics.wallSeconds` since the engine records compute as `seconds`.
    else if (!MODEL_KINDS.has(m.kind)) method += Number(m.metrics.wallSeconds ?? m.seconds);
  }
  return { method, training };
}

/**
 * How noisy the ground truth is: r = mean over targets (and over pairs of seeds, when
 * there are more than 2) of the Spearman, over subsets, between the margins of two seeds
 * trained on the same subsets. Averaging s seeds gives the reliability
 * ρ = s·r / (1 + (s − 1)·r) (Spearman-Brown), and no method can correlate with the
 * averaged truth above about √ρ (`cap`).
 */
function seedAgreement(gtHash: string): { r: number; pairs: number; seeds: number } | undefined {
  const dir = join(runs, 'store', gtHash);
  const margins = readNpy(join(dir, MODELS.marginsTest));
  const maskOf = readNpy(join(dir, MODELS.maskOf)).data;
  const seedOf = readNpy(join(dir, MODELS.seedOf)).data;
  const [nModels, nTest] = margins.shape;
  const seeds = Math.max(...seedOf) + 1;
  if (seeds < 2) return undefined;
  const nMasks = Math.max(...maskOf) + 1;
  const bySeed = Array.from({ length: seeds }, () => new Float64Array(nTest * nMasks));
  for (let m = 0; m < nModels; m++) {
    const target = bySeed[seedOf[m]];
    for (let j = 0; j < nTest; j++) target[j * nMasks + maskOf[m]] = margins.data[m * nTest + j];
  }
  let r = 0;
  let pairs = 0;
  for (let s = 0; s < seeds; s++) {
    for (let t = s + 1; t < seeds; t++, pairs++) {
      const [a, b] = [bySeed[s], bySeed[t]];
      for (let j = 0; j < nTest; j++) r += (spearman(a.subarray(j * nMasks, (j + 1) * nMasks), b.subarray(j * nMasks, (j + 1) * nMasks)) || 0) / nTest;
    }
  }
  return { r: r / pairs, pairs, seeds };
}
const cap = (r: number, seeds: number) => Math.sqrt((seeds * r) / (1 + (seeds - 1) * r));

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function loadConfig(c: string): Config {
  return parse(readFileSync(join(here, `${c}.yaml`), 'utf8'), { merge: true }) as Config;
}

/** The stage and everything upstream of it. */
function upstream(cfg: Config, stage: string, out = new Set<string>()): Set<string> {
  if (out.has(stage)) return out;
  for (const input of Object.values(cfg.stages[stage].inputs ?? {})) upstream(cfg, input, out);
  out.add(stage);
  return out;
}

const partName = (cfg: Config, suffix: string) => `${cfg.name}--${suffix}`.replace(/_/g, '-');

function readRun(name: string): RunRecord | undefined {
  const file = join(runs, name, 'run.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RunRecord) : undefined;
}

/** Runs the part of `cfg` made of `stages` as its own experiment; returns its run.json. */
function runPart(cfg: Config, suffix: string, stages: Set<string>, force: string[]): RunRecord | undefined {
  const name = partName(cfg, suffix);
  const part: Record<string, unknown> = { ...cfg, name, stages: Object.fromEntries(Object.entries(cfg.stages).filter(([s]) => stages.has(s))) };
  delete part.defaults; // anchors are already resolved
  const dir = join(runs, 'configs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(part, null, 1) + '\n');
  const args = [join(root, 'bin/attrib.js'), 'run', file, '--jobs', jobs, '--runs', runs, ...force.flatMap((f) => ['--force', f])];
  console.log(`\n== attrib run ${file} --jobs ${jobs}${force.map((f) => ` --force ${f}`).join('')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) console.error(`${name}: attrib exited with ${r.status}; its finished rows are still reported`);
  return readRun(name);
}

// 1. Run: the models of a config first, then each method alone.
const started = new Date();
const loadBefore = loadavg()[0];
if (!flag('report')) {
  for (const c of configs) {
    const cfg = loadConfig(c);
    const names = Object.keys(cfg.stages);
    runPart(cfg, 'models', new Set(names.filter((s) => MODEL_KINDS.has(cfg.stages[s].kind))), []);
    for (const s of names.filter((n) => cfg.stages[n].kind === 'lds')) {
      const part = upstream(cfg, s);
      // --fresh: force the method's first own stages (and so everything downstream of them).
      const own = (n: string) => !MODEL_KINDS.has(cfg.stages[n].kind);
      const force = flag('fresh') ? [...part].filter((n) => own(n) && Object.values(cfg.stages[n].inputs ?? {}).every((i) => !own(i))) : [];
      runPart(cfg, s, part, force);
    }
  }
}

// 2. Report.
const rows: string[][] = [];
/** Per model (LR, MLP): its ground truths, by store hash, in the order first met. */
const groundTruths = new Map<string, Map<string, { subsets: number; seeds: number; agree?: ReturnType<typeof seedAgreement> }>>();
for (const c of configs) {
  const cfg = loadConfig(c);
  for (const s of Object.keys(cfg.stages).filter((n) => cfg.stages[n].kind === 'lds')) {
    const entry = readRun(partName(cfg, s))?.[s];
    if (!entry || !existsSync(join(runs, 'store', entry.hash, 'manifest.json'))) {
      console.error(`${c}: ${s} has no result yet`);
      continue;
    }
    const m = manifest(entry.hash);
    const d = describe(m.inputs.scores);
    const t = seconds(m.inputs.scores);
    const key = d.model.split(' ')[0];
    const gts = groundTruths.get(key) ?? new Map();
    groundTruths.set(key, gts);
    const seeds = Number(m.metrics.seedsPerSubset);
    if (!gts.has(m.inputs.models)) gts.set(m.inputs.models, { subsets: Number(m.metrics.subsets), seeds, agree: seedAgreement(m.inputs.models) });
    rows.push([
      d.model,
      d.method,
      d.projector,
      `${m.metrics.subsets} × ${seeds}`,
      fmt(Number(m.metrics.lds)),
      `${fmt(Number(m.metrics.ldsLow))} – ${fmt(Number(m.metrics.ldsHigh))}`,
      fmt(t.method, 0),
      fmt(t.training, 0),
      manifest(m.inputs.scores).finished.slice(11, 16),
      `${c}: ${s}`,
    ]);
  }
}
// The seed-to-seed Spearman r of a model's multi-seed ground truth also bounds its
// single-seed one (same recipe): LDS ≲ √r there.
const groundTruth = [...groundTruths].map(([key, gts]) => {
  const measured = [...gts.values()].find((g) => g.agree)?.agree;
  const parts = [...gts.values()].map((g) => {
    const r = g.agree?.r ?? measured?.r;
    const note = !r ? '' : g.agree ? ` (seed-to-seed Spearman ${fmt(r, 2)}${g.agree.pairs > 1 ? ` averaged over ${g.agree.pairs} seed pairs` : ''}, so LDS ≲ ${fmt(cap(r, g.seeds), 2)})` : ` (so LDS ≲ ${fmt(cap(r, g.seeds), 2)} by the seed-to-seed Spearman above)`;
    return `${g.subsets} subsets × ${g.seeds} seed${g.seeds === 1 ? '' : 's'}${note}`;
  });
  // List the multi-seed ground truth first, so "above" reads right.
  const order = [...gts.values()].map((g, i) => [g.agree ? 0 : 1, i]);
  return `${key}: ${order.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => parts[i]).join(', and ')}`;
});
const cpu = cpus();
const table = [
  `${flag('report') ? 'Reported' : 'Run'} ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu.length} × ${cpu[0]?.model ?? 'cpu'} (${(totalmem() / 2 ** 30).toFixed(0)} GB), Node ${process.version}` +
    (flag('report') ? '; "done" is when each method finished (UTC). ' : `, load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}. `) +
    `Targets: all 500 test examples. Ground truth ("GT subsets × seeds"; margins averaged over the seeds of each subset): ${groundTruth.join('; ') || '?'}. ` +
    (flag('report') ? 'Rows read from the store by `npm run bench:lds -- --report`.' : `Command: \`npm run bench:lds -- --configs ${configs.join(',')} --jobs ${jobs}${flag('fresh') ? ' --fresh' : ''}\`.`),
  '',
  '| model | method | projector | GT subsets × seeds | LDS | 95% CI (lds v2: two-way bootstrap over targets and subsets) | method s (wall) | training s (Σ models) | done | config: stage |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
console.log(`\n${table}\n`);

if (flag('write')) {
  const path = join(root, 'BENCHMARKS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`BENCHMARKS.md has no ${BEGIN} … ${END} block (in "## Attribution quality (LDS)"); not written`);
    process.exit(1);
  }
  writeFileSync(path, text.slice(0, a + BEGIN.length) + '\n' + table + '\n' + text.slice(b));
  console.log('BENCHMARKS.md: table updated');
}
