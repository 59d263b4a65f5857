/**
 * `attrib verify [--runs DIR]`: checks every finished store entry as a run would before
 * using it (store.ts readManifest: the manifest's own digest, every file's size and
 * sha256 read afresh, every input's content against what the entry was computed from).
 * Lists the entries that are corrupt or stale; exit 1 if any. Nothing is changed: the
 * next `attrib run` that needs such an entry computes it again.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Store } from '../store.ts';
import { runsFolderProblem } from './runs-folder.ts';
import { EXIT, type CommandExtension, type CommandTools } from './types.ts';

export const verifyCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { print } = tools;
    program
      .command('verify')
      .description('check every finished store entry (sha256 of its files, its manifest, its inputs); exit 1 if any is corrupt or stale')
      .addOption(tools.runsOption())
      .action((o: { runs: string }) => {
        const problem = runsFolderProblem(o.runs, { write: false });
        if (problem) tools.fail(problem);
        const store = new Store(resolve(o.runs));
        let good = 0;
        let unfinished = 0;
        const bad: string[] = [];
        for (const hash of store.listEntries()) {
          const check = store.readManifest(hash, { fresh: true });
          if (check.ok) good++;
          else if (check.missing) unfinished++;
          else bad.push(`${check.stale ? 'stale' : 'corrupt'}  store/${hash}  ${store.readStage(hash)?.kind ?? '?'}: ${check.problem}`);
        }
        for (const line of bad) print(line);
        const tail = bad.length ? `; \`attrib run\` computes ${bad.length === 1 ? 'it' : 'them'} again` : '';
        print(`${good + bad.length + unfinished} entries checked: ${good} intact, ${bad.length} corrupt or stale, ${unfinished} unfinished${tail}`);
        if (bad.length) tools.setExitCode(EXIT.failed);
      });
  },
};
