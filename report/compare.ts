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
import { Store, type HistoryRecord, type Manifest, type RunRecord } from '../pipeline/store.ts';
import { jsonDiffs, short } from '../pipeline/plan.ts';
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

/** Finds the run a command-line argument means: a run folder, a run.json, a run record, an experiment name, or a run id (`attrib runs`). */
export function findRun(arg: string, runsDir: string): LoadedRun {
  const byId = findRecord(arg, runsDir);
  if (byId) return byId;
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
    if (isRecord(run)) return fromRecord(arg, file, run);
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

const isRecord = (v: unknown): v is HistoryRecord => typeof (v as HistoryRecord).id === 'string' && typeof (v as HistoryRecord).stages === 'object';

/** A run record (runs/<experiment>/history/<id>.json): its entries' dirs are relative to the experiment's folder. */
function fromRecord(arg: string, file: string, record: HistoryRecord): LoadedRun {
  const dir = resolve(dirname(file), '..');
  return { arg, dir, name: `${basename(dir)} ${record.id}`, run: record.stages };
}

/** The run record whose id starts with `arg`, when `arg` looks like an id; one of several sweep points' is ambiguous. */
function findRecord(arg: string, runsDir: string): LoadedRun | undefined {
  if (!/^\d{8}-\d{4}/.test(arg)) return undefined;
  const store = new Store(runsDir);
  const found = store.listExperiments().flatMap((e) => store.readHistory(e).filter((r) => r.id.startsWith(arg)));
  if (found.length === 0) throw new RunNotFound(`no run with id "${arg}" in ${runsDir} (attrib runs lists them)`);
  if (found.length > 1) {
    const which = found.map((r) => `${r.experiment}/history/${r.id}.json`).slice(0, 6).join(', ');
    throw new RunNotFound(`run id "${arg}" names ${found.length} runs; give one's record: ${which}`);
  }
  return fromRecord(arg, join(store.historyDir(found[0]!.experiment), `${found[0]!.id}.json`), found[0]!);
}

/**
 * A run, or one stage of a run as `RUN:STAGE` (then the run holds that stage alone,
 * under `as` when given, so two stages of different names line up).
 */
export function findRunOrStage(arg: string, runsDir: string, as?: string): LoadedRun {
  const colon = arg.lastIndexOf(':');
  if (colon <= 0) return findRun(arg, runsDir);
  let run: LoadedRun;
  try {
    run = findRun(arg.slice(0, colon), runsDir);
  } catch (e) {
    // A path with a colon in it, perhaps.
    if (e instanceof RunNotFound && existsSync(arg)) return findRun(arg, runsDir);
    throw e;
  }
  const stage = arg.slice(colon + 1);
  const entry = run.run[stage];
  if (!entry) throw new RunNotFound(`run ${run.name} has no stage "${stage}" (its stages: ${Object.keys(run.run).join(', ')})`);
  return { ...run, arg, name: `${run.name}:${stage}`, run: { [as ?? stage]: entry } };
}

/** Names two stage arguments by one label: the stage name when both share it, else "a / b". */
export function stageLabel(a: string, b: string): string | undefined {
  const stage = (arg: string) => (arg.lastIndexOf(':') > 0 ? arg.slice(arg.lastIndexOf(':') + 1) : undefined);
  const sa = stage(a);
  const sb = stage(b);
  if (!sa || !sb) return undefined;
  return sa === sb ? sa : `${sa} / ${sb}`;
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
  /** Only these metrics (and no definition differences). */
  metrics?: string[];
  /** Only metrics whose values differ. */
  changed?: boolean;
}

/** One line of a stage's comparison: a metric, its status, or a difference in what it is (kind, version, seed, params.*, input NAME). */
export interface CompareRow {
  field: string;
  a: unknown;
  b: unknown;
  /** "+0.1 (+20%)", "changed", "added", "removed", or "" when equal. */
  delta: string;
}

export interface StageComparison {
  stage: string;
  /** The same store entry in both runs. */
  same: boolean;
  only?: 'A' | 'B';
  rows: CompareRow[];
  /** The paired LDS difference, when both are lds entries on the same ground truth. */
  paired?: string;
}

export interface Comparison {
  a: { name: string; dir: string };
  b: { name: string; dir: string };
  stages: StageComparison[];
}

/** What a stage is, from its entry (stage.json, else the manifest); undefined when the entry is gone. */
function definition(run: LoadedRun, name: string): Pick<Manifest, 'kind' | 'version' | 'params' | 'inputs' | 'seed'> | undefined {
  for (const file of ['stage.json', 'manifest.json']) {
    try {
      return JSON.parse(readFileSync(join(entryDir(run, name), file), 'utf8'));
    } catch {
      // next
    }
  }
  return undefined;
}

/** Differences in what two stages are: kind, version, seed, params, inputs. */
function definitionRows(a: LoadedRun, b: LoadedRun, name: string): CompareRow[] {
  const da = definition(a, name);
  const db = definition(b, name);
  if (!da || !db) return [{ field: 'definition', a: da ? 'in the store' : 'not in the store', b: db ? 'in the store' : 'not in the store', delta: 'unknown' }];
  const rows: CompareRow[] = [];
  if (da.kind !== db.kind) rows.push({ field: 'kind', a: da.kind, b: db.kind, delta: 'changed' });
  else if (da.version !== db.version) rows.push({ field: 'version', a: da.version, b: db.version, delta: 'changed' });
  if (da.seed !== db.seed) rows.push({ field: 'seed', a: da.seed, b: db.seed, delta: 'changed' });
  for (const d of jsonDiffs(da.params ?? {}, db.params ?? {}, 'params')) rows.push({ field: d.path, a: d.a, b: d.b, delta: delta(d.a, d.b) });
  for (const input of [...new Set([...Object.keys(da.inputs ?? {}), ...Object.keys(db.inputs ?? {})])]) {
    const ha = da.inputs?.[input];
    const hb = db.inputs?.[input];
    if (ha !== hb) rows.push({ field: `input ${input}`, a: ha, b: hb, delta: ha && hb ? 'other entry' : delta(ha, hb) });
  }
  return rows;
}

/** The comparison of two runs, stage by stage (stages of A first, then those only in B). */
export function compare(a: LoadedRun, b: LoadedRun, opts: CompareOptions = {}): Comparison {
  const names = [...Object.keys(a.run), ...Object.keys(b.run).filter((n) => !(n in a.run))];
  const stages = names.map((name): StageComparison => {
    const sa = stageMetrics(a, name);
    const sb = stageMetrics(b, name);
    if (!sa || !sb) return { stage: name, same: false, only: sa ? 'A' : 'B', rows: [] };
    const same = sa.hash === sb.hash;
    const rows: CompareRow[] = [];
    if (same && !opts.all) return { stage: name, same, rows };
    if (sa.status !== 'done' || sb.status !== 'done') rows.push({ field: 'status', a: sa.status, b: sb.status, delta: sa.status === sb.status ? '' : 'changed' });
    const keys = [...Object.keys(sa.metrics), ...Object.keys(sb.metrics).filter((k) => !(k in sa.metrics))].filter((k) => !opts.metrics || opts.metrics.includes(k));
    for (const k of keys) {
      const d = delta(sa.metrics[k], sb.metrics[k]);
      if (opts.changed && !d) continue;
      rows.push({ field: k, a: sa.metrics[k], b: sb.metrics[k], delta: d });
    }
    if (!same && !opts.metrics) rows.push(...definitionRows(a, b, name));
    let paired: string | undefined;
    if (sa.status === 'done' && sb.status === 'done' && !same && existsSync(join(entryDir(a, name), LDS.meta)) && existsSync(join(entryDir(b, name), LDS.meta))) {
      const p = pairedLdsEntries(entryDir(b, name), entryDir(a, name), PAIRED);
      paired = p.ok ? formatPaired('B', 'A', p.result) : `not paired (${p.reason})`;
    }
    return { stage: name, same, rows, ...(paired ? { paired } : {}) };
  });
  return { a: { name: a.name, dir: a.dir }, b: { name: b.name, dir: b.dir }, stages };
}

function cellText(field: string, v: unknown): string {
  if (v === undefined) return '';
  if (field.startsWith('input ') && typeof v === 'string') return v.slice(0, 12);
  if (field.startsWith('params.')) return short(v);
  return formatMetric(v);
}

/** The comparison table as text. */
export function compareRuns(a: LoadedRun, b: LoadedRun, opts: CompareOptions = {}): string {
  const c = compare(a, b, opts);
  const rows = [['stage', 'what', 'A', 'B', 'B − A']];
  const paired: string[] = [];
  for (const s of c.stages) {
    if (s.only) rows.push([s.stage, `(only in ${s.only})`, '', '', '']);
    else if (s.same && !opts.all) rows.push([s.stage, '(same entry)', '', '', '']);
    else if (s.rows.length === 0) rows.push([s.stage, '(no differences)', '', '', '']);
    s.rows.forEach((r, i) => rows.push([i === 0 ? s.stage : '', r.field, cellText(r.field, r.a), cellText(r.field, r.b), r.delta]));
    if (s.paired) paired.push(`  ${s.stage}: ${s.paired}`);
  }
  const same = c.stages.filter((s) => s.same).length;
  const where = (r: { name: string; dir: string }) => `${r.name}  (${relative(process.cwd(), r.dir) || '.'})`;
  const pairedLines = paired.length ? ['', `paired LDS differences (same targets and subsets; ${PAIRED.ci * 100}% two-way bootstrap, ${PAIRED.resamples} resamples):`, ...paired] : [];
  return [`A: ${where(c.a)}`, `B: ${where(c.b)}`, '', table(rows), ...pairedLines, '', `${c.stages.length} stages, ${same} the same entry in both${same && !opts.all ? ' (--all lists their metrics)' : ''}`].join('\n');
}
