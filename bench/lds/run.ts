/**
 * The LDS benchmark runner: runs the bench/lds configs through the attrib CLI (cached
 * stages are reused, so a rerun only does what is missing), then reads every `lds`
 * stage of their run.json files and prints one markdown table: LDS with its bootstrap
 * interval, and the wall-clock seconds of the method itself (its featurize/solve
 * stages) and of training the models it used, from the store manifests.
 *
 *   npm run bench:lds                            run all configs, print the table
 *   npm run bench:lds -- --report                only read what the store has
 *   npm run bench:lds -- --write                 also put the table into BENCHMARKS.md
 *   npm run bench:lds -- --configs mnist-lr,mnist-mlp --jobs 2 --runs runs/bench-lds
 *
 * Seconds are those of the run that produced each store entry (a stage resumed after a
 * kill shows only its last run's time), on whatever else the machine was doing then:
 * the table header records the machine, the date and the load average.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ALL = ['mnist-lr', 'mnist-mlp', 'mnist-lr-datamodels', 'mnist-mlp-dense2048'];
const BEGIN = '<!-- bench:lds:table:begin -->';
const END = '<!-- bench:lds:table:end -->';

interface Manifest {
  kind: string;
  params: Record<string, any>;
  inputs: Record<string, string>;
  seconds: number;
  metrics: Record<string, number | string | boolean | null>;
  finished: string;
}
interface RunEntry { hash: string; status: string }

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const runs = resolve(root, option('runs', 'runs/bench-lds'));
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

function describe(scoresHash: string): { model: string; method: string; models: number; projector: string } {
  const s = manifest(scoresHash);
  const upstream = [...closure(scoresHash).values()];
  const train = upstream.find((m) => m.kind === 'train');
  const features = upstream.find((m) => m.kind === 'linearize');
  const models = Number(train?.metrics.models ?? 0);
  const modelKind = String(train?.params.model?.kind ?? '?');
  const hidden = train?.params.model?.hidden as number[] | undefined;
  const model = `${MODEL_NAMES[modelKind] ?? modelKind}${hidden ? ` ${hidden.join('-')}` : ''}`;
  const proj = (features?.params.projector ?? s.params.projector) as { kind: string; dim?: number } | undefined;
  const projector = !proj ? '–' : proj.kind === 'identity' ? 'exact gradients' : `${proj.kind}, k = ${proj.dim}`;
  const names: Record<string, string> = { trak: 'TRAK', graddot: 'Grad-Dot', gradcos: 'Grad-Cos', tracin: 'TracIn', influence: 'Influence (exact, damped GN)', datamodels: 'Datamodels' };
  let method = names[s.kind] ?? s.kind;
  if (s.kind === 'trak') method = `TRAK-${models}`;
  if (s.kind === 'tracin') method = `TracIn (${(s.metrics.checkpoints as number | undefined) ?? ''} ckpts)`.replace(' ( ckpts)', '');
  if (s.kind === 'datamodels') method = `Datamodels (${models} models)`;
  return { model, method, models, projector };
}

function seconds(scoresHash: string): { method: number; training: number } {
  let method = 0;
  let training = 0;
  for (const m of closure(scoresHash).values()) {
    if (m.kind === 'train') training += m.seconds;
    else if (m.kind !== 'dataset' && m.kind !== 'subsets') method += m.seconds;
  }
  return { method, training };
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');

// 1. Run.
const started = new Date();
const loadBefore = loadavg()[0];
if (!flag('report')) {
  for (const c of configs) {
    const file = join(here, `${c}.yaml`);
    console.log(`\n== attrib run bench/lds/${c}.yaml --jobs ${jobs} --runs ${option('runs', 'runs/bench-lds')}`);
    const r = spawnSync(process.execPath, [join(root, 'bin/attrib.js'), 'run', file, '--jobs', jobs, '--runs', runs], { stdio: 'inherit', cwd: root });
    if (r.status !== 0) console.error(`bench/lds/${c}.yaml: attrib exited with ${r.status}; its finished rows are still reported`);
  }
}

// 2. Report.
const rows: string[][] = [];
let groundTruth = '';
for (const c of configs) {
  const name = (parse(readFileSync(join(here, `${c}.yaml`), 'utf8')) as { name: string }).name;
  const runFile = join(runs, name, 'run.json');
  if (!existsSync(runFile)) {
    console.error(`${c}: no ${runFile} yet`);
    continue;
  }
  const record = JSON.parse(readFileSync(runFile, 'utf8')) as Record<string, RunEntry>;
  for (const [stage, entry] of Object.entries(record)) {
    if (!existsSync(join(runs, 'store', entry.hash, 'manifest.json'))) continue;
    const m = manifest(entry.hash);
    if (m.kind !== 'lds') continue;
    const d = describe(m.inputs.scores);
    const t = seconds(m.inputs.scores);
    const gt = manifest(m.inputs.models);
    groundTruth ||= `${m.metrics.subsets} subsets × ${m.metrics.seedsPerSubset} seeds`;
    rows.push([
      d.model,
      d.method,
      d.projector,
      fmt(Number(m.metrics.lds)),
      `${fmt(Number(m.metrics.ldsLow))}–${fmt(Number(m.metrics.ldsHigh))}`,
      String(m.metrics.targets),
      `${m.metrics.subsets}×${m.metrics.seedsPerSubset}`,
      fmt(t.method, 0),
      fmt(t.training, 0),
      `${c}: ${stage} (GT train ${fmt(gt.seconds, 0)} s)`,
    ]);
  }
}
const cpu = cpus();
const header = [
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu.length} × ${cpu[0]?.model ?? 'cpu'} (${(totalmem() / 2 ** 30).toFixed(0)} GB), Node ${process.version}, ` +
    `load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}; ground truth ${groundTruth || '?'}; ` +
    `command: \`npm run bench:lds -- --configs ${configs.join(',')} --jobs ${jobs}\`.`,
  '',
  '| model | method | projector | LDS | 95% CI | targets | GT subsets×seeds | method s | training s | config: stage |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];
const table = header.join('\n');
console.log(`\n${table}\n`);

if (flag('write')) {
  const path = join(root, 'BENCHMARKS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`BENCHMARKS.md has no ${BEGIN} … ${END} block in "## Attribution quality (LDS)"; not written`);
    process.exit(1);
  }
  writeFileSync(path, text.slice(0, a + BEGIN.length) + '\n' + table + '\n' + text.slice(b));
  console.log('BENCHMARKS.md: table updated');
}
