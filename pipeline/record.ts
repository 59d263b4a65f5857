/**
 * Step 6: record. run.json per experiment (stage name -> hash, dir, status, seconds,
 * metrics), rewritten atomically as stages finish so `status` and `gc` see a run in
 * progress; and the summary table printed at the end of `attrib run`.
 */
import type { Metrics, StageHash } from './registry.ts';
import type { ExperimentPlan } from './plan.ts';
import type { RunEntry, RunRecord, RunStatus } from './store.ts';
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
