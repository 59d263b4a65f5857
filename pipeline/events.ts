/**
 * What the scheduler tells the person watching: one typed event union, consumed by a
 * Reporter (pipeline/progress.ts) or by a script's own callback.
 */
import type { Metrics, StageHash } from './registry.ts';

/** `stage` is the instance's label: its stage name, with the sweep point when ambiguous. */
export type RunEvent =
  | { type: 'cached'; stage: string; hash: StageHash }
  /** Another process holds the entry's lock: waiting for it, then reusing its result. */
  | { type: 'waiting'; stage: string; hash: StageHash }
  | { type: 'warning'; stage: string; hash: StageHash; message: string }
  | { type: 'started'; stage: string; hash: StageHash; reason?: string; units?: { done: number; total: number } }
  /** Units finished so far (fractional: in-flight units' reported progress included). */
  | { type: 'progress'; stage: string; hash: StageHash; done: number; total: number }
  | { type: 'log'; stage: string; hash: StageHash; message: string; /** The executor's own note, never folded. */ fromExecutor?: boolean }
  | { type: 'finished'; stage: string; hash: StageHash; seconds: number; metrics: Metrics }
  | { type: 'failed'; stage: string; hash: StageHash; error: string }
  | { type: 'blocked'; stage: string; hash: StageHash; by: string };
