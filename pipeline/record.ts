/**
 * Step 6: record. run.json per experiment (stage name -> hash, dir, status, seconds,
 * metrics), rewritten atomically as stages finish so `status` and `gc` see a run in
 * progress; the run's own history record (runs/<experiment>/history/<id>.json, written
 * when it starts and when it ends), so a later run never hides an earlier one from
 * `gc`, `plan --against` or `compare`; and the summary table printed at the end of
 * `attrib run`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Metrics, StageHash } from './registry.ts';
import type { ExperimentPlan } from './plan.ts';
import { mayBeRunning, type HistoryRecord, type RunEntry, type RunRecord, type RunStatus } from './store.ts';
import { printable } from './terminal.ts';

export interface InstanceResult {
  hash: StageHash;
  status: Exclude<RunStatus, 'pending'>;
  /** Wall time this run spent on the stage (0 when cached). */
  seconds: number;
  metrics: Metrics;
  error?: string;
}

export function runEntry(hash: StageHash, status: RunStatus, seconds = 0, metrics: Metrics = {}, error?: string): RunEntry {
  return { hash, dir: `../store/${hash}`, status, seconds: round(seconds), metrics, ...(error ? { error } : {}) };
}

export function pendingRun(plan: ExperimentPlan): RunRecord {
  return Object.fromEntries(plan.instances.map((i) => [i.name, runEntry(i.hash, 'pending')]));
}

export function round(x: number, digits = 3): number {
  return Number(x.toFixed(digits));
}

export function formatMetric(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1000 ? value.toFixed(0) : Number(value.toPrecision(4)).toString();
}

export function formatMetrics(metrics: Metrics, skip: string[] = ['seconds', 'wallSeconds']): string {
  return Object.entries(metrics)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${formatMetric(v)}`)
    .join(' ');
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/** One table per experiment: stage, status, seconds, metrics. */
export function summary(plans: ExperimentPlan[], results: Map<StageHash, InstanceResult>): string {
  return plans
    .map((plan) => {
      const rows = [['stage', 'status', 'seconds', 'metrics']];
      for (const inst of plan.instances) {
        const r = results.get(inst.hash);
        const status = r?.status ?? 'pending';
        const detail = r?.error ? `${r.status === 'blocked' ? '' : 'error: '}${r.error}` : formatMetrics(r?.metrics ?? {});
        rows.push([inst.name, status, r ? r.seconds.toFixed(1) : '-', printable(detail)]);
      }
      return `${plan.experiment.name}\n${table(rows)}`;
    })
    .join('\n\n');
}

// --- run history ----------------------------------------------------------------------

/** A run id that sorts by start time: 20261202-074500-3fa1 (UTC). */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The project's git commit around `dir` (and whether the tree had changes), or undefined outside git. */
export function gitState(dir: string): HistoryRecord['git'] {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    return { commit, dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return undefined;
  }
}

/** Whether every stage of the record finished (ran or cached). */
export function allSucceeded(stages: RunRecord): boolean {
  return Object.values(stages).every((e) => e.status === 'ran' || e.status === 'cached');
}

/** The status people see: a record left `running` by a process that is gone was interrupted. */
export function shownStatus(record: HistoryRecord): HistoryRecord['status'] | 'interrupted' {
  if (record.status === 'running' && !mayBeRunning(record)) return 'interrupted';
  return record.status;
}

/** "3 ran, 2 cached, 1 failed". */
export function stageCounts(stages: RunRecord): string {
  const order: RunStatus[] = ['ran', 'cached', 'failed', 'blocked', 'pending'];
  const n = (status: RunStatus) => Object.values(stages).filter((e) => e.status === status).length;
  return order.filter((s) => n(s) > 0).map((s) => `${n(s)} ${s}`).join(', ');
}

/** The run a record stands for when another run is compared with it: the last complete one unless asked. */
export function chooseRecord(records: readonly HistoryRecord[], id?: string): HistoryRecord | undefined {
  if (id) return records.find((r) => r.id === id) ?? records.find((r) => r.id.startsWith(id));
  return [...records].reverse().find((r) => r.status === 'complete' && !r.selected);
}

// --- the points table of a run (one line per sweep point) -----------------------------

export interface PointRow {
  experiment: string;
  /** The swept values, by their short key. */
  point: Record<string, unknown>;
  /** 'ok' when every stage of the point ran or was cached. */
  status: 'ok' | 'failed';
  /** `stage.metric` -> value: the headline metrics (see headlineMetrics). */
  metrics: Record<string, unknown>;
}

const NOT_HEADLINE = new Set(['seconds', 'wallSeconds']);

/**
 * Which `stage.metric` columns a points table shows. The engine knows no metric by name,
 * so: for a sweep, the metrics whose values differ between points; for one point, the
 * metrics of its last stages (those no other stage takes as input).
 */
export function headlineMetrics(plans: ExperimentPlan[], results: Map<StageHash, InstanceResult>): string[] {
  const valueOf = (plan: ExperimentPlan, stage: string, metric: string) => {
    const inst = plan.instances.find((i) => i.name === stage);
    return inst ? results.get(inst.hash)?.metrics[metric] : undefined;
  };
  const columns: string[] = [];
  for (const plan of plans) {
    const consumed = new Set(plan.instances.flatMap((i) => Object.values(i.upstream)));
    for (const inst of plan.instances) {
      if (plans.length === 1 && consumed.has(inst.name)) continue;
      for (const metric of Object.keys(results.get(inst.hash)?.metrics ?? {})) {
        const column = `${inst.name}.${metric}`;
        if (NOT_HEADLINE.has(metric) || columns.includes(column)) continue;
        const values = plans.map((p) => JSON.stringify(valueOf(p, inst.name, metric) ?? null));
        if (plans.length === 1 || new Set(values).size > 1) columns.push(column);
      }
    }
  }
  return columns;
}

export function pointRows(plans: ExperimentPlan[], results: Map<StageHash, InstanceResult>): PointRow[] {
  const columns = headlineMetrics(plans, results);
  return plans.map((plan) => {
    const byName = new Map(plan.instances.map((i) => [i.name, results.get(i.hash)]));
    const metrics: Record<string, unknown> = {};
    for (const column of columns) {
      const dot = column.indexOf('.');
      const value = byName.get(column.slice(0, dot))?.metrics[column.slice(dot + 1)];
      if (value !== undefined) metrics[column] = value;
    }
    const ok = [...byName.values()].every((r) => r?.status === 'ran' || r?.status === 'cached');
    return { experiment: plan.experiment.name, point: Object.fromEntries(plan.experiment.point.map((p) => [p.key, p.value])), status: ok ? 'ok' : 'failed', metrics };
  });
}

/** The points table as text (aligned columns), csv or json. */
export function formatPoints(rows: PointRow[], format: 'text' | 'csv' | 'json'): string {
  if (format === 'json') return JSON.stringify(rows, null, 2);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.point)))];
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const withStatus = rows.some((r) => r.status !== 'ok');
  const header = [...(keys.length ? keys : ['experiment']), ...(withStatus ? ['status'] : []), ...columns];
  const cell = (v: unknown, text: boolean) => (v === undefined ? '' : typeof v === 'string' ? v : text ? formatMetric(v) : JSON.stringify(v));
  const body = rows.map((r) => [...(keys.length ? keys.map((k) => r.point[k]) : [r.experiment]), ...(withStatus ? [r.status] : []), ...columns.map((c) => r.metrics[c])]);
  if (format === 'csv') return [header, ...body].map((row) => row.map((v) => csvCell(cell(v, false))).join(',')).join('\n');
  return table([header, ...body.map((row) => row.map((v) => cell(v, true)))]);
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
