/**
 * Talking to SLURM through its commands (sbatch, squeue, scontrol, scancel), without
 * accounting: a job's state is what squeue says while it is queued or running, and the
 * store says what finished. A stage's jobs are named after its store hash:
 *
 *   attrib-<hash>-count    counts the units and submits them as arrays
 *   attrib-<hash>          the unit array (`-o<offset>` when a stage has more units than
 *                          MaxArraySize and needs several arrays)
 *   attrib-<hash>-finish   run() or combine(), then the manifest
 *
 * and carry `--comment=attrib:<runs folder>` so that runs of other folders are told apart.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TaskError } from '../../executor.ts';
import type { StageHash } from '../../registry.ts';

const NAME = /^attrib-([0-9a-f]{64})(?:-o(\d+)|-(count|finish))?$/;

/** What a job does for its stage. */
export type JobRole = 'count' | 'units' | 'finish';

export function arrayName(hash: StageHash, offset: number): string {
  return offset ? `attrib-${hash}-o${offset}` : `attrib-${hash}`;
}

export function jobName(hash: StageHash, role: 'count' | 'finish'): string {
  return `attrib-${hash}-${role}`;
}

export function parseJobName(name: string): { hash: StageHash; role: JobRole; offset: number } | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { hash: m[1] as StageHash, role: (m[3] as JobRole | undefined) ?? 'units', offset: Number(m[2] ?? 0) };
}

export function runsComment(runsDir: string): string {
  return `attrib:${runsDir}`;
}

/** "0-3,5,7-9" for [0,1,2,3,5,7,8,9] (sorted, distinct). */
export function indexRanges(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** One of attrib's jobs (or one array task) as squeue shows it. */
export interface QueuedTask {
  /** The job id, or the array's job id (%F) for an array task. */
  arrayJobId: string;
  /** The task's index in the array (%K); -1 for a job that is not an array. */
  taskId: number;
  /** PENDING, RUNNING, COMPLETING, ... */
  state: string;
  /** Why it is pending (%r), e.g. Dependency, JobHeldUser. */
  reason: string;
  hash: StageHash;
  role: JobRole;
  offset: number;
  /** For a unit task: the unit index, taskId + offset. */
  index: number;
  comment: string;
}

/** Format for parseSqueue. */
export const SQUEUE_FORMAT = '%F|%K|%T|%r|%j|%k';

/** Parses `squeue --noheader --array --format=SQUEUE_FORMAT`, keeping attrib's jobs only. */
export function parseSqueue(text: string): QueuedTask[] {
  const tasks: QueuedTask[] = [];
  for (const line of text.split('\n')) {
    const [arrayJobId, taskId, state, reason, name, ...comment] = line.trim().split('|');
    if (!arrayJobId || !taskId || !state || reason === undefined || !name) continue;
    const parsed = parseJobName(name.trim());
    if (!parsed) continue;
    const k = parsed.role === 'units' ? Number(taskId) : -1;
    if (!Number.isInteger(k)) continue;
    tasks.push({ arrayJobId, taskId: k, state, reason, ...parsed, index: k + parsed.offset, comment: comment.join('|') });
  }
  return tasks;
}

/** attrib's jobs (array tasks one by one) for this runs folder, by the current user. */
export async function queuedTasks(runsDir: string, timeoutMs = 30_000): Promise<QueuedTask[]> {
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : undefined;
  const args = ['--noheader', '--array', `--format=${SQUEUE_FORMAT}`, ...(uid ? [`--user=${uid}`] : [])];
  const r = await command('squeue', args, timeoutMs);
  if (r.code !== 0) throw new Error(`squeue failed: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.code}`}`);
  const comment = runsComment(runsDir);
  return parseSqueue(r.stdout).filter((t) => t.comment === comment);
}

/** Single-quotes a word for /bin/sh. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; a timeout kills it (code 124). */
export function command(cmd: string, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${cmd}: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 124 : (code ?? 1), stdout, stderr: timedOut ? `${cmd} did not answer within ${timeoutMs / 1000}s` : stderr });
    });
  });
}

/** The file `cmd` would run from PATH, or undefined. */
export function onPath(cmd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** MaxArraySize from `scontrol show config` (SLURM's default 1001 when it cannot tell). */
export async function maxArraySize(): Promise<number> {
  const r = await command('scontrol', ['show', 'config'], 30_000);
  const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(r.stdout);
  const n = m ? Number(m[1]) : NaN;
  return Number.isInteger(n) && n > 1 ? n : 1001;
}

/** Writes a job's batch script (sbatch keeps its own copy; this one is for people to read). */
export function script(dir: string, name: string, what: string, setup: string[], lines: string[]): string {
  const path = join(dir, `${name}-${Date.now()}.sh`);
  writeFileSync(path, ['#!/bin/sh', `# attrib: ${what}.`, ...setup, ...lines, ''].join('\n'), { mode: 0o755 });
  return path;
}

export const exec = (argv: string[]) => [`exec ${argv.map(shellQuote).join(' ')}`];

/** Submits a batch script; resolves to the job id. */
export async function sbatch(args: string[], scriptPath: string): Promise<string> {
  const r = await command('sbatch', ['--parsable', ...args, scriptPath], 120_000);
  const id = r.stdout.trim().split(';')[0]!;
  if (r.code !== 0 || !/^\d+$/.test(id)) throw new TaskError(`sbatch failed: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`);
  return id;
}

/** What a count job wrote: the stage's units, how many were finished before it submitted, its arrays. */
export interface ExpandRecord {
  units: number;
  doneBefore: number;
  arrays: { id: string; tasks: number }[];
}

/**
 * The record of count job `countJob` in `logs`, or, when the job is not known (a stage
 * adopted from an earlier coordinator), the newest record there; undefined until written.
 */
export function readExpandRecord(logs: string, countJob: string | undefined): ExpandRecord | undefined {
  let name = countJob ? `count-${countJob}.json` : undefined;
  if (!name) {
    let names: string[] = [];
    try {
      names = readdirSync(logs).filter((n) => /^count-\d+\.json$/.test(n));
    } catch {
      return undefined;
    }
    name = names.sort((a, b) => statSync(join(logs, b)).mtimeMs - statSync(join(logs, a)).mtimeMs)[0];
    if (!name) return undefined;
  }
  try {
    return JSON.parse(readFileSync(join(logs, name), 'utf8')) as ExpandRecord;
  } catch {
    return undefined; // not written yet (atomic: never half)
  }
}
