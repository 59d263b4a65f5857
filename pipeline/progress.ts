/**
 * Reporters turn RunEvents into what a person reads. On a TTY: a live block with one
 * line per running stage (units done / total, elapsed, ETA, its latest unit's log line),
 * redrawn in place, with the other log lines scrolling above it. Elsewhere (CI, a pipe):
 * plain lines, at most one progress line every few seconds per stage (with the latest
 * unit's log line folded in), plus start and finish lines. `--quiet`: only warnings and
 * failures. After the run, `resultsSummary` says where the results are and their
 * headline numbers; `interruptedMessage` is what Ctrl-C prints.
 */
import { join, relative } from 'node:path';
import type { RunEvent } from './events.ts';
import type { ExperimentPlan } from './plan.ts';
import { formatMetric, formatMetrics, type InstanceResult } from './record.ts';
import type { Metrics, StageHash } from './registry.ts';
import type { Store } from './store.ts';
import { printable } from './terminal.ts';

export interface Reporter {
  event(e: RunEvent): void;
  close(): void;
}

interface Active {
  started: number;
  done: number;
  total?: number;
  lastPrinted: number;
  /** The latest log line of a unit (one per model: shown in the progress line, not scrolled). */
  note?: string;
}

export interface Writable {
  write(text: string): unknown;
  columns?: number;
}

/** Rows are cut to the terminal's width, or to this many columns off a terminal. */
export const PLAIN_COLUMNS = 100;

export function createReporter(out: Writable, opts: { tty: boolean; plainEveryMs?: number; quiet?: boolean }): Reporter {
  if (opts.quiet) return new QuietReporter(out);
  return opts.tty ? new TtyReporter(out) : new PlainReporter(out, opts.plainEveryMs ?? 5000);
}

/** Cuts a line to `width` columns, marking the cut. */
export function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Running stages and their unit counts, as both reporters see them from the events. */
function track(active: Map<string, Active>, e: RunEvent, now: number): Active | undefined {
  if (e.type === 'started') active.set(e.stage, { started: now, done: e.units?.done ?? 0, total: e.units?.total, lastPrinted: now });
  if (e.type === 'finished' || e.type === 'failed') active.delete(e.stage);
  if (e.type !== 'progress') return undefined;
  const a = active.get(e.stage);
  if (a) [a.done, a.total] = [e.done, e.total];
  return a;
}

/**
 * On a terminal, a log line from a stage whose units are under way is folded into its
 * progress line (kept as its note) instead of scrolling: one line per model trained is
 * noise there. Plain output keeps the line and notes it too. Lines
 * logged before or after the units (a combine's summary), and the executor's own notes
 * (queues, job arrays, a missing worker), still scroll.
 */
function folded(active: Map<string, Active>, e: RunEvent): boolean {
  if (e.type !== 'log' || e.fromExecutor) return false;
  const a = active.get(e.stage);
  if (!a || a.total === undefined || a.done >= a.total) return false;
  a.note = e.message;
  return true;
}

/** `[models] 12/16 units, 00:31 elapsed ETA 00:10 · model 11 …`, cut to `width`. */
function progressLine(stage: string, a: Active, now: number, width: number): string {
  const units = a.total !== undefined ? ` ${Math.floor(a.done)}/${a.total} units,` : '';
  const text = `[${stage}]${units} ${clock((now - a.started) / 1000)} elapsed${eta(a, now)}${a.note ? ` · ${a.note}` : ''}`;
  return fit(text, width);
}

function eta(a: Active, now: number): string {
  if (a.total === undefined || a.total === 0 || a.done <= 0) return '';
  const elapsed = (now - a.started) / 1000;
  const left = ((a.total - a.done) * elapsed) / a.done;
  return ` ETA ${clock(left)}`;
}

/** The line every reporter prints for events that are not progress; logs and errors come from workers: sanitized. */
function line(e: RunEvent): string | undefined {
  const text = rawLine(e);
  return text === undefined ? undefined : printable(text);
}

function rawLine(e: RunEvent): string | undefined {
  switch (e.type) {
    case 'cached':
      return `[${e.stage}] cached`;
    case 'waiting':
      return `[${e.stage}] another attrib process is working on this entry; waiting for it`;
    case 'warning':
      return `[${e.stage}] warning: ${e.message}`;
    case 'started': {
      const units = e.units ? ` ${e.units.total} units${e.units.done ? ` (${e.units.done} done earlier, resuming)` : ''}` : '';
      return `[${e.stage}] started${units}${e.reason ? ` (${e.reason})` : ''}`;
    }
    case 'log':
      return `[${e.stage}] ${e.message}`;
    case 'finished': {
      const metrics = formatMetrics(e.metrics);
      return `[${e.stage}] ran in ${e.seconds.toFixed(1)}s${metrics ? `: ${metrics}` : ''}`;
    }
    case 'failed':
      return `[${e.stage}] FAILED: ${e.error}`;
    case 'blocked':
      return `[${e.stage}] blocked: ${e.by} failed`;
    case 'progress':
      return undefined;
  }
}

class PlainReporter implements Reporter {
  private readonly active = new Map<string, Active>();
  constructor(
    private readonly out: Writable,
    private readonly every: number,
  ) {}

  event(e: RunEvent): void {
    const now = Date.now();
    const a = track(this.active, e, now);
    if (e.type === 'progress') {
      if (!a || now - a.lastPrinted < this.every) return;
      a.lastPrinted = now;
      this.out.write(`${progressLine(e.stage, a, now, this.out.columns || PLAIN_COLUMNS)}\n`);
      return;
    }
    // Plain output (a log file, CI) keeps every unit's line, so it can be searched later;
    // the line also becomes the note of the stage's next progress line.
    folded(this.active, e);
    const text = line(e);
    if (text) this.out.write(`${text}\n`);
  }

  close(): void {}
}

class TtyReporter implements Reporter {
  private readonly active = new Map<string, Active>();
  private drawn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly out: Writable) {
    this.timer = setInterval(() => this.redraw([]), 500);
    this.timer.unref();
  }

  event(e: RunEvent): void {
    track(this.active, e, Date.now());
    const text = folded(this.active, e) ? undefined : line(e);
    this.redraw(text ? [text] : []);
  }

  private redraw(scroll: string[]): void {
    const now = Date.now();
    const width = Math.max(20, (this.out.columns || PLAIN_COLUMNS) - 1);
    const block = [...this.active].map(([stage, a]) => `  ${progressLine(stage, a, now, width - 2)}`);
    // Move up over the previous block, clear it, print new log lines, then the block.
    const up = this.drawn ? `\x1b[${this.drawn}A\x1b[0J` : '';
    this.out.write(up + [...scroll, ...block].map((l) => `${l}\n`).join(''));
    this.drawn = block.length;
  }

  close(): void {
    clearInterval(this.timer);
    this.active.clear();
    this.redraw([]);
  }
}

/** `--quiet`: what needs attention only (warnings, failures, blocked stages). */
class QuietReporter implements Reporter {
  constructor(private readonly out: Writable) {}

  event(e: RunEvent): void {
    if (e.type !== 'warning' && e.type !== 'failed' && e.type !== 'blocked') return;
    this.out.write(`${line(e)}\n`);
  }

  close(): void {}
}

/** What Ctrl-C prints before attrib stops: nothing finished is lost, and how to go on. */
export function interruptedMessage(signal: string, runs: string, command: string): string {
  return [
    `attrib: stopped by ${signal}: finished units and stages are kept in ${runs}; run the same command again to resume`,
    `(the units that were running are dropped) ${command}`,
  ].join('\n');
}

/**
 * Files a person opens first, when a stage's entry has them (the names are the
 * artifact layouts', docs/artifacts.md): each target's top proponents and opponents.
 */
const HEADLINE_FILES = ['top.json'];

/**
 * The block printed after a run: per experiment, where its record is, and for each result
 * (a stage nothing in the experiment reads) its headline metrics, a metric `x` with
 * `xLow`/`xHigh` shown with its interval; then the headline files of every stage.
 * Paths are relative to `cwd` (what the user can paste), and every line fits `width`.
 */
export function resultsSummary(plans: readonly ExperimentPlan[], results: ReadonlyMap<StageHash, InstanceResult>, store: Store, cwd: string, width = PLAIN_COLUMNS): string {
  const path = (p: string) => relative(cwd, p) || '.';
  const blocks = plans.map((plan) => {
    const read = new Set(plan.instances.flatMap((i) => Object.values(i.inputs)));
    const lines = [`${plan.experiment.name}: record ${path(store.runFile(plan.experiment.name))}`];
    for (const inst of plan.instances) {
      const r = results.get(inst.hash);
      if (!r || (r.status !== 'ran' && r.status !== 'cached')) continue;
      if (!read.has(inst.hash)) {
        lines.push(fit(`  ${inst.name}: ${headline(r.metrics)}`.trimEnd(), width));
        lines.push(fit(`    in ${path(store.entry(inst.hash))}`, width));
      }
      const check = store.readManifest(inst.hash);
      if (!check.ok) continue;
      for (const file of HEADLINE_FILES) {
        if (file in check.manifest.files) lines.push(`  ${inst.name}: ${path(join(store.entry(inst.hash), file))}`);
      }
    }
    return lines.join('\n');
  });
  return blocks.join('\n');
}

/** Metrics with their intervals folded in: `lds=0.5312 [0.5101, 0.5498] ldsStd=0.1`. */
export function headline(metrics: Metrics): string {
  const keys = Object.keys(metrics).filter((k) => k !== 'seconds' && k !== 'wallSeconds');
  const inInterval = new Set(keys.filter((k) => /(Low|High)$/.test(k) && keys.includes(k.replace(/(Low|High)$/, ''))));
  return keys
    .filter((k) => !inInterval.has(k))
    .map((k) => {
      const [low, high] = [metrics[`${k}Low`], metrics[`${k}High`]];
      const interval = low !== undefined && high !== undefined ? ` [${formatMetric(low)}, ${formatMetric(high)}]` : '';
      return `${k}=${formatMetric(metrics[k])}${interval}`;
    })
    .join(' ');
}

/**
 * A table (columns separated by two spaces, as record.ts `table` makes them) with its
 * long rows wrapped at spaces to `width`, the continuation indented to the last column.
 */
export function fitTable(text: string, width: number): string {
  const lines = text.split('\n');
  const header = lines.find((l) => / {2}\S+$/.test(l));
  const lastColumn = header ? header.lastIndexOf('  ') + 2 : 0;
  const indent = lastColumn < width / 2 ? lastColumn : 4;
  return lines
    .flatMap((l) => {
      if (l.length <= width) return [l];
      const out: string[] = [];
      let rest = l;
      while (rest.length > width) {
        const cut = rest.lastIndexOf(' ', width);
        const at = cut > indent ? cut : width;
        out.push(rest.slice(0, at).trimEnd());
        rest = ' '.repeat(indent) + rest.slice(at).trimStart();
      }
      out.push(rest);
      return out;
    })
    .join('\n');
}
