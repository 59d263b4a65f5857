/**
 * Runs an outside program for a command stage: an argv array (never a shell string),
 * its stdout and stderr appended to a log file, an optional timeout that kills the
 * whole process group (a Python script's own workers too), and one line that says why
 * it failed: the last line of stderr (a Python traceback's last line is the exception).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ProgramRun {
  argv: string[];
  env: Record<string, string>;
  /** Appended to: one header line, then everything the program prints. */
  log: string;
  /** Seconds; the process group gets SIGTERM, then SIGKILL 5 s later. */
  timeout?: number;
  cwd?: string;
}

export class ProgramError extends Error {}

/** Keeps the last `max` characters of a stream, for the failure line. */
class Tail {
  private text = '';
  constructor(private readonly max = 8192) {}
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.max);
  }
  lastLine(): string | undefined {
    const lines = this.text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return lines[lines.length - 1];
  }
}

/** Resolves when the program exits 0; rejects with a ProgramError of one line otherwise. */
export function runProgram(run: ProgramRun): Promise<void> {
  mkdirSync(dirname(run.log), { recursive: true });
  const fd = openSync(run.log, 'a');
  writeSync(fd, `# ${new Date().toISOString()} ${JSON.stringify(run.argv)}\n`);
  const program = run.argv[0]!;
  const tail = new Tail();
  const outTail = new Tail();
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killer);
      writeSync(fd, `# ${error ?? 'exit 0'}\n`);
      closeSync(fd);
      if (error) reject(new ProgramError(`${error} (log: ${run.log})`));
      else resolve();
    };
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let killer: NodeJS.Timeout | undefined;
    // detached: its own process group, so a timeout reaches the program's children too.
    const child = spawn(program, run.argv.slice(1), { env: run.env, cwd: run.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* already gone */
      }
    };
    child.stdout.on('data', (d: Buffer) => (writeSync(fd, d), outTail.push(d)));
    child.stderr.on('data', (d: Buffer) => (writeSync(fd, d), tail.push(d)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') finish(`command not found: ${program}`);
      else if (e.code === 'EACCES') finish(`cannot execute ${program}: permission denied (chmod +x it, or name its interpreter first: [bash, ${program}])`);
      else finish(`cannot start ${program}: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      if (timedOut) return finish(`${program} timed out after ${run.timeout} s and was killed`);
      if (code === 0) return finish();
      const why = tail.lastLine() ?? outTail.lastLine() ?? 'no output';
      finish(`${program} ${code !== null ? `exited with code ${code}` : `was killed by ${signal}`}: ${why}`);
    });
    if (run.timeout !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        killer = setTimeout(() => killGroup('SIGKILL'), 5000);
      }, run.timeout * 1000);
    }
  });
}
