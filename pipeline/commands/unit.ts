/**
 * `attrib unit HASH INDEX|finish`: one work unit of a stage, or its finish (run() or
 * combine(), then the manifest), from its store entry alone. What the slurm executor's
 * array tasks and finish jobs run; usable by hand on any machine sharing the runs folder.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { hasUnits } from '../registry.ts';
import { finishStage, performTask } from '../task.ts';
import { ATTRIB_VERSION } from '../version.ts';
import { openEntry, pluginOption } from './entry.ts';
import { EXIT, UsageError, type CommandExtension, type CommandTools } from './types.ts';

export const unitCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('unit')
      .description('run one work unit of a stage, or finish the stage (run/combine, then the manifest), from its store entry alone (what SLURM jobs run)')
      .argument('<hash>', 'the stage instance hash (runs/store/<hash>)')
      .argument('<index>', 'unit index, or "finish"', (v) => {
        if (v === 'finish') return v;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('index must be a non-negative integer or "finish"');
        return n;
      })
      .addOption(tools.runsOption())
      .addOption(pluginOption())
      .action(async (hash: string, index: number | 'finish', o: { runs: string; plugin?: string[] }) => {
        const entry = await openEntry(tools.registry, hash, o);
        const what = index === 'finish' ? 'finish' : `unit ${index}`;
        if (index !== 'finish' && !hasUnits(entry.kind)) throw new UsageError([{ message: `stage kind "${entry.kind.name}" has no units` }]);
        try {
          const hooks = { log: (m: string) => tools.warn(`[${what}] ${m}`), progress: () => {} };
          if (index === 'finish') await finishStage(tools.registry, entry.store, entry.hash, ATTRIB_VERSION, hooks);
          else await performTask(tools.registry, entry.store, { step: 'unit', hash: entry.hash, index }, hooks);
          tools.print(`${what} of ${hash.slice(0, 12)}: done`);
        } catch (e) {
          tools.warn(`${what} of ${hash.slice(0, 12)} failed: ${e instanceof Error ? e.message : String(e)}`);
          tools.setExitCode(EXIT.failed);
        }
      });
  },
};
