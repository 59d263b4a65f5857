/**
 * `attrib gc [--dry-run] [--keep-last N] [--keep-since DATE]`: remove store entries that
 * neither a run.json (the latest run) nor a kept run record references. Every run record
 * is kept unless --keep-last / --keep-since say which to keep; the others are forgotten
 * first, and then what only they referenced is removed.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { Store } from '../store.ts';
import { runsFolderProblem } from './runs-folder.ts';
import type { CommandExtension, CommandTools } from './types.ts';

const count = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--keep-last must be a non-negative integer');
  return n;
};

const date = (value: string) => {
  const d = new Date(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(d.getTime())) throw new InvalidArgumentError(`expected a date such as 2026-12-01 or 2026-12-01T08:00Z, got "${value}"`);
  return d;
};

export const gcCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { print } = tools;
    program
      .command('gc')
      .description('remove store entries that no run.json or kept run record references (directly or as an upstream)')
      .addOption(tools.runsOption())
      .option('--dry-run', 'only list what would be removed')
      .option('--keep-last <n>', 'keep only the last N run records of each experiment (with --keep-since: either keeps a record)', count)
      .option('--keep-since <date>', 'keep only run records started at or after DATE (UTC unless the date says otherwise)', date)
      .action(async (o: { runs: string; dryRun?: boolean; keepLast?: number; keepSince?: Date }) => {
        const problem = runsFolderProblem(o.runs, { write: false });
        if (problem) tools.fail(problem);
        const store = new Store(resolve(o.runs));
        const { removed, kept, skippedLocked, forgotten } = await store.gc({ dryRun: o.dryRun, keepLast: o.keepLast, keepSince: o.keepSince });
        const verb = o.dryRun ? 'would remove' : 'removed';
        for (const r of forgotten) print(`${o.dryRun ? 'would forget' : 'forgot'} run ${r.id} of ${r.experiment}`);
        for (const h of removed) print(`${verb} store/${h}`);
        for (const h of skippedLocked) print(`kept store/${h} (in use by a running attrib)`);
        print(`${verb} ${removed.length} entries, kept ${kept}${forgotten.length ? `; ${o.dryRun ? 'would forget' : 'forgot'} ${forgotten.length} run records` : ''}`);
      });
  },
};
