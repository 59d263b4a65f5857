/**
 * Runs an outside program for a command stage: an argv array (never a shell string),
 * its stdout and stderr appended to a log file, an optional timeout that kills it, and
 * one line that says why it failed: the last line of stderr (a Python traceback's last line is the exception).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ProgramRun {
  argv: string[];
  env: Record<string, string>;
  /** Appended to: one header line, then everything the program prints. */
  log: string;
  /** Seconds; the program gets SIGTERM, then SIGKILL 5 s later. */
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
    // Not detached: it stays in attrib's process group, so Ctrl-C on `attrib run` stops it too.
    const child = spawn(program, run.argv.slice(1), { env: run.env, cwd: run.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = (signal: NodeJS.Signals) => child.kill(signal);
    // (Output that arrives after the end, from a grandchild, is dropped: the log is closed.)
    const record = (to: Tail) => (d: Buffer) => {
      if (settled) return;
      writeSync(fd, d);
      to.push(d);
    };
    child.stdout.on('data', record(outTail));
    child.stderr.on('data', record(tail));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') finish(`command not found: ${program}`);
      else if (e.code === 'EACCES') finish(`cannot execute ${program}: permission denied (chmod +x it, or name its interpreter first: [bash, ${program}])`);
      else finish(`cannot start ${program}: ${e.message}`);
    });
    // After a timeout, do not wait for the pipes: a grandchild may still hold them open.
    child.on('exit', () => timedOut && finish(`${program} timed out after ${run.timeout} s and was killed`));
    child.on('close', (code, signal) => {
      if (timedOut) return finish(`${program} timed out after ${run.timeout} s and was killed`);
      if (code === 0) return finish();
      const why = tail.lastLine() ?? outTail.lastLine() ?? 'no output';
      finish(`${program} ${code !== null ? `exited with code ${code}` : `was killed by ${signal}`}: ${why}`);
    });
    if (run.timeout !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        kill('SIGTERM');
        killer = setTimeout(() => kill('SIGKILL'), 5000);
      }, run.timeout * 1000);
    }
  });
}
