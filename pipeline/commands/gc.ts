/** `attrib gc [--dry-run]`: remove store entries that no run.json references. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Store } from '../store.ts';
import { runsFolderProblem } from './runs-folder.ts';
import type { CommandExtension, CommandTools } from './types.ts';

export const gcCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { print } = tools;
    program
      .command('gc')
      .description('remove store entries that no run.json references (directly or as an upstream)')
      .addOption(tools.runsOption())
      .option('--dry-run', 'only list what would be removed')
      .action((o: { runs: string; dryRun?: boolean }) => {
        const problem = runsFolderProblem(o.runs, { write: false });
        if (problem) tools.fail(problem);
        const store = new Store(resolve(o.runs));
        const { removed, kept, skippedLocked } = store.gc({ dryRun: o.dryRun });
        for (const h of removed) print(`${o.dryRun ? 'would remove' : 'removed'} store/${h}`);
        for (const h of skippedLocked) print(`kept store/${h} (in use by a running attrib)`);
        print(`${o.dryRun ? 'would remove' : 'removed'} ${removed.length} entries, kept ${kept}`);
      });
  },
};
