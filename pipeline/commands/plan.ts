/** `attrib plan CONFIG`: stage instances in order, with their hash, state and why each changed. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { describeState, entryState, planExperiment, whyChanged } from '../plan.ts';
import { table } from '../record.ts';
import { Store } from '../store.ts';
import type { CommandExtension, CommandTools } from './types.ts';

export const planCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { print } = tools;
    program
      .command('plan')
      .description('list stage instances in order with their hash and state (cached / partial / missing), and why each changed')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .addOption(tools.noPluginsOption())
      .addOption(tools.runsOption())
      .action(async (config: string, o: { set?: string[]; plugins: boolean; runs: string }) => {
        const loaded = await tools.load(config, o.set, { plugins: o.plugins });
        const store = new Store(resolve(o.runs));
        const plans = loaded.experiments.map(planExperiment);
        for (const plan of plans) {
          const previous = store.readRun(plan.experiment.name);
          const rows = [['stage', 'kind', 'hash', 'state', 'why']];
          for (const inst of plan.instances) {
            const state = entryState(store, inst.hash);
            const why = state.state === 'cached' ? '' : (whyChanged(store, previous, inst) ?? '');
            rows.push([inst.name, inst.spec.kind.name, inst.hash.slice(0, 12), describeState(state), why]);
          }
          print(`${plan.experiment.name}`);
          print(table(rows));
          print();
        }
        const all = plans.flatMap((p) => p.instances);
        const distinct = new Set(all.map((i) => i.hash));
        const toRun = [...distinct].filter((h) => entryState(store, h).state !== 'cached');
        print(`${plans.length} experiment(s), ${all.length} stage instances, ${distinct.size} distinct; ${toRun.length} to run`);
      });
  },
};
