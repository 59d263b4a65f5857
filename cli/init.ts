/**
 * `attrib init`: writes a commented starter config for a data set and a method, explicit
 * about every stage, that runs as written. Registered as a command from stages/index.ts
 * (starters are about ML, so they live here, not in the engine).
 *
 *   attrib init [--data mnist|fashion-mnist|iris|synthetic|csv|npy]
 *               [--method trak|datamodels|compare] [--out FILE] [--force] [--tiny]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { CommandExtension, CommandTools } from '../pipeline/commands/types.ts';
import { DATA, METHODS, renderStarter, type DataName, type Method } from './starters.ts';

export { DATA, METHODS, renderStarter } from './starters.ts';
export type { DataName, Method, StarterOptions } from './starters.ts';

export const initCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('init')
      .description('write a commented starter config (a data set, a method, every stage explicit) that runs as written')
      .addOption(new Option('--data <name>', 'data set').choices(DATA).default('mnist'))
      .addOption(new Option('--method <name>', 'attribution method: TRAK, datamodels, or TRAK against baselines').choices(METHODS).default('trak'))
      .option('--out <file>', 'where to write it (default: <data>-<method>.yaml; - for stdout)')
      .option('--force', 'overwrite an existing file')
      .option('--tiny', 'tiny sizes that run in seconds (a smoke test)')
      .action((o: { data: DataName; method: Method; out?: string; force?: boolean; tiny?: boolean }) => {
        const out = o.out ?? `${o.data}-${o.method}${o.tiny ? '-tiny' : ''}.yaml`;
        if (out === '-') {
          tools.print(renderStarter({ data: o.data, method: o.method, tiny: o.tiny, out: resolve('starter.yaml') }).trimEnd());
          return;
        }
        const file = resolve(out);
        if (existsSync(file) && !o.force) tools.fail(`${out} exists; pass --force to overwrite it`);
        const text = renderStarter({ data: o.data, method: o.method, tiny: o.tiny, out: file });
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
        const shown = relative(process.cwd(), file) || out;
        tools.print(`wrote ${shown}`);
        tools.print(`  npx attrib plan ${shown}    what it will run`);
        tools.print(`  npx attrib run ${shown}     run it`);
      });
  },
};
