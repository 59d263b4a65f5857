/**
 * Reporters turn RunEvents into what a person reads. On a TTY: a live block with one
 * line per running stage (units done / total, elapsed, ETA), redrawn in place, with
 * log lines scrolling above it. Elsewhere (CI, a pipe): plain lines, at most one
 * progress line every few seconds per stage, plus start and finish lines.
 */
import type { RunEvent } from './events.ts';
import { formatMetrics } from './record.ts';
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
}

export interface Writable {
  write(text: string): unknown;
  columns?: number;
}

export function createReporter(out: Writable, opts: { tty: boolean; plainEveryMs?: number }): Reporter {
  return opts.tty ? new TtyReporter(out) : new PlainReporter(out, opts.plainEveryMs ?? 5000);
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
      this.out.write(`[${e.stage}] ${Math.floor(e.done)}/${e.total} units, ${clock((now - a.started) / 1000)} elapsed${eta(a, now)}\n`);
      return;
    }
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
    const text = line(e);
    this.redraw(text ? [text] : []);
  }

  private redraw(scroll: string[]): void {
    const now = Date.now();
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const block = [...this.active].map(([stage, a]) => {
      const units = a.total !== undefined ? `${Math.floor(a.done)}/${a.total} units  ` : '';
      return `  ${stage}  ${units}${clock((now - a.started) / 1000)}${eta(a, now)}`.slice(0, width);
    });
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
