/**
 * `attrib runs [EXPERIMENT...]` (alias `log`): every recorded run, oldest first, from the
 * run records under runs/<experiment>/history/ (one per experiment and run).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { shownStatus, stageCounts, table } from '../record.ts';
import { Store, type HistoryRecord } from '../store.ts';
import type { CommandExtension, CommandTools } from './types.ts';

export const runsCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('runs')
      .alias('log')
      .description('list recorded runs, oldest first: id, experiment, start, status, stages, git commit, overrides')
      .argument('[experiment...]', 'only these experiments (a sweep\'s base name takes all its points)')
      .addOption(tools.runsOption())
      .option('--json', 'print the records as JSON (an array, oldest first)')
      .action((experiments: string[], o: { runs: string; json?: boolean }) => {
        const store = new Store(resolve(o.runs));
        const wanted = (name: string) => experiments.length === 0 || experiments.some((e) => name === e || name.startsWith(`${e}@`));
        const records = store
          .listExperiments()
          .filter(wanted)
          .flatMap((e) => store.readHistory(e))
          .sort((a, b) => a.started.localeCompare(b.started) || a.experiment.localeCompare(b.experiment));
        if (o.json) {
          tools.print(JSON.stringify(records.map((r) => ({ ...r, status: shownStatus(r) })), null, 2));
          return;
        }
        if (records.length === 0) {
          tools.print(`no recorded runs in ${o.runs}${experiments.length ? ` for ${experiments.join(', ')}` : ''}`);
          return;
        }
        const rows = [['id', 'experiment', 'started (UTC)', 'status', 'stages', 'commit', 'overrides']];
        for (const r of records) rows.push([r.id, r.experiment, r.started.replace('T', ' ').slice(0, 19), describeStatus(r), stageCounts(r.stages), commit(r), r.overrides.join(' ')]);
        tools.print(table(rows));
      });
  },
};

function describeStatus(r: HistoryRecord): string {
  const status = shownStatus(r);
  return r.selected ? `${status} (only ${r.selected.join(', ')})` : status;
}

function commit(r: HistoryRecord): string {
  return r.git ? `${r.git.commit.slice(0, 8)}${r.git.dirty ? '+' : ''}` : '-';
}
