/** `attrib validate CONFIG`: the config's checks (schema, stage kinds, inputs, cycles), nothing run. */
import type { Command } from 'commander';
import type { CommandExtension, CommandTools } from './types.ts';

export const validateCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    tools
      .sweepOptions(program.command('validate'))
      .description('check the config (schema, stage kinds, inputs, cycles) without running anything')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .addOption(tools.noPluginsOption())
      .action(async (config: string, o: { set?: string[]; sweep?: string[]; zip?: boolean; plugins: boolean }) => {
        const loaded = await tools.load(config, o.set, o);
        const stages = loaded.experiments[0]!.stages.length;
        tools.print(`${loaded.source.display}: ok (${loaded.experiments.length} experiment(s), ${stages} stages each)`);
      });
  },
};
