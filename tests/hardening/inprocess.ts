/**
 * The CLI's main() in this process, for tests that run many configs (a spawn per config
 * would cost a node start each): the same registry the executable builds, output
 * captured. Paths in messages are absolute (the temporary folder is outside the working
 * directory); `relativeTo` strips a folder from them.
 */
import { main } from '../../pipeline/cli.ts';
import { Registry } from '../../pipeline/registry.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { registerCommands } from '../../cli/index.ts';
import type { CliResult } from '../helpers/rig.ts';

const WORKER = new URL('../../bin/worker.js', import.meta.url);

/** Runs `attrib ...args` in-process with a fresh registry (plugins register into it). */
export async function attribInProcess(args: string[], relativeTo?: string): Promise<CliResult> {
  const registry = new Registry();
  registerBuiltins(registry);
  registerCommands(registry);
  let stdout = '';
  let stderr = '';
  const code = await main(args, { registry, workerEntry: WORKER, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  const strip = (s: string) => (relativeTo ? s.replaceAll(`${relativeTo}/`, '') : s);
  return { code, signal: null, stdout: strip(stdout), stderr: strip(stderr) };
}

/** No stack trace and no internal error in a CLI's output. */
export function stackFree(r: { stdout: string; stderr: string }): boolean {
  const text = r.stdout + r.stderr;
  // A stack frame: "    at fn (file:line:col)" or "    at file:line:col" (not a wrapped table row).
  return !/^\s+at .*:\d+:\d+\)?$/m.test(text) && !/internal error/.test(text);
}
