/**
 * `attrib compare RUN_A RUN_B`: the metric differences of two runs (or two sweep points)
 * as a table. A run is a run folder (runs/<experiment>/), its run.json, or an experiment
 * name under --runs (`name@key=value` for a sweep point). Metrics are the finished
 * entries' manifests (what the stage computed, with the seconds it took when it ran),
 * falling back to what run.json recorded. Stages that are the same store entry in both
 * runs have the same metrics by construction and take one line. lds stages that differ
 * but share their ground truth also get "B − A = d [lo, hi]", a paired two-way bootstrap
 * interval of the difference (lib/evaluation/paired.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { formatMetric, table } from '../pipeline/record.ts';
import type { Metrics } from '../pipeline/registry.ts';
import type { Manifest, RunRecord } from '../pipeline/store.ts';
import { LDS } from '../lib/artifacts.ts';
import { formatPaired, PAIRED, pairedLdsEntries } from '../lib/evaluation/paired.ts';
import { runFolders } from './graph.ts';

export interface LoadedRun {
  /** As the person gave it. */
  arg: string;
  /** The run folder. */
  dir: string;
  name: string;
  run: RunRecord;
}

export class RunNotFound extends Error {}

/** Finds the run a command-line argument means. */
export function findRun(arg: string, runsDir: string): LoadedRun {
  const candidates = [arg, join(runsDir, arg)];
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const file = statSync(c).isDirectory() ? join(c, 'run.json') : c;
    if (!existsSync(file)) continue;
    let run: RunRecord;
    try {
      run = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
    } catch (e) {
      throw new RunNotFound(`${file}: not a run.json (${(e as Error).message.split('\n')[0]})`);
    }
    if (!run || typeof run !== 'object' || Array.isArray(run)) throw new RunNotFound(`${file}: not a run.json`);
    const dir = resolve(dirname(file));
    return { arg, dir, name: basename(dir), run };
  }
  const known = runFolders(runsDir);
  const close = known.filter((k) => k.startsWith(arg.split('@')[0]!));
  const hint = (close.length ? close : known).slice(0, 12);
  throw new RunNotFound(
    `no run "${arg}" (looked for ${arg}/run.json and ${join(runsDir, arg)}/run.json)` + (hint.length ? `; runs in ${runsDir}: ${hint.join(', ')}${known.length > hint.length ? ', ...' : ''}` : `; ${runsDir} holds no runs`),
  );
}

interface StageMetrics {
  hash: string;
  status: string;
  metrics: Metrics;
}

function entryDir(run: LoadedRun, name: string): string {
  const entry = run.run[name]!;
  return resolve(run.dir, entry.dir ?? `../store/${entry.hash}`);
}

function stageMetrics(run: LoadedRun, name: string): StageMetrics | undefined {
  const entry = run.run[name];
  if (!entry) return undefined;
  let manifest: Manifest | undefined;
  try {
    manifest = JSON.parse(readFileSync(join(entryDir(run, name), 'manifest.json'), 'utf8')) as Manifest;
    if (manifest.hash !== entry.hash) manifest = undefined;
  } catch {
    manifest = undefined;
  }
  const metrics: Metrics = manifest ? { ...manifest.metrics, seconds: manifest.seconds } : { ...entry.metrics };
  return { hash: entry.hash, status: manifest ? 'done' : entry.status, metrics };
}

function delta(a: unknown, b: unknown): string {
  if (typeof a === 'number' && typeof b === 'number') {
    const d = b - a;
    if (d === 0) return '';
    const rel = a !== 0 ? ` (${d > 0 ? '+' : ''}${formatMetric((100 * d) / Math.abs(a))}%)` : '';
    return `${d > 0 ? '+' : ''}${formatMetric(d)}${rel}`;
  }
  if (a === undefined || b === undefined) return a === undefined ? 'added' : 'removed';
  return JSON.stringify(a) === JSON.stringify(b) ? '' : 'changed';
}

export interface CompareOptions {
  /** List every metric of stages that are the same entry in both runs too. */
  all?: boolean;
  /** Only these metrics. */
  metrics?: string[];
  /** Only metrics whose values differ. */
  changed?: boolean;
}

/** The comparison table as text. */
export function compareRuns(a: LoadedRun, b: LoadedRun, opts: CompareOptions = {}): string {
  const names = [...Object.keys(a.run), ...Object.keys(b.run).filter((n) => !(n in a.run))];
  const rows = [['stage', 'metric', 'A', 'B', 'B − A']];
  let same = 0;
  const paired: string[] = [];
  for (const name of names) {
    const sa = stageMetrics(a, name);
    const sb = stageMetrics(b, name);
    if (!sa || !sb) {
      rows.push([name, sa ? '(only in A)' : '(only in B)', '', '', '']);
      continue;
    }
    if (sa.hash === sb.hash && !opts.all) {
      rows.push([name, '(same entry)', '', '', '']);
      same++;
      continue;
    }
    let first = true;
    if (sa.status !== 'done' || sb.status !== 'done') {
      rows.push([name, 'status', sa.status, sb.status, sa.status === sb.status ? '' : 'changed']);
      first = false;
    }
    const keys = [...Object.keys(sa.metrics), ...Object.keys(sb.metrics).filter((k) => !(k in sa.metrics))].filter((k) => !opts.metrics || opts.metrics.includes(k));
    for (const k of keys) {
      const va = sa.metrics[k];
      const vb = sb.metrics[k];
      const d = delta(va, vb);
      if (opts.changed && !d) continue;
      rows.push([first ? name : '', k, va === undefined ? '' : formatMetric(va), vb === undefined ? '' : formatMetric(vb), d]);
      first = false;
    }
    if (first) rows.push([name, '(no differences)', '', '', '']);
    if (sa.status === 'done' && sb.status === 'done' && existsSync(join(entryDir(a, name), LDS.meta)) && existsSync(join(entryDir(b, name), LDS.meta))) {
      const p = pairedLdsEntries(entryDir(b, name), entryDir(a, name), PAIRED);
      paired.push(`  ${name}: ${p.ok ? formatPaired('B', 'A', p.result) : `not paired (${p.reason})`}`);
    }
  }
  const where = (r: LoadedRun) => {
    const rel = relative(process.cwd(), r.dir) || '.';
    return `${r.name}  (${rel})`;
  };
  const pairedLines = paired.length ? ['', `paired LDS differences (same targets and subsets; ${PAIRED.ci * 100}% two-way bootstrap, ${PAIRED.resamples} resamples):`, ...paired] : [];
  return [`A: ${where(a)}`, `B: ${where(b)}`, '', table(rows), ...pairedLines, '', `${names.length} stages, ${same} the same entry in both${same && !opts.all ? ' (--all lists their metrics)' : ''}`].join('\n');
}
