/**
 * `attrib schema [--config FILE] [--out FILE]`: the JSON Schema of a config, generated
 * from the zod schemas of the top level and of every registered stage kind (built-in,
 * plus the plugins a config names with --config). Point an editor at it with a config's
 * first line:
 *
 *   # yaml-language-server: $schema=../schema/attrib.schema.json
 *
 * schema/attrib.schema.json is this command's output for the built-in kinds, checked in
 * (a test fails when it is stale; `npx tsx scripts/gen-docs.ts` rewrites it).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandExtension, CommandTools } from './types.ts';
import type { Registry } from '../registry.ts';
import { configJsonSchema } from '../schema.ts';
import { loadConfigPlugins } from './kinds.ts';

/** The schema as the checked-in file holds it: 2-space JSON and a final newline. */
export function schemaText(registry: Registry): { text: string; problems: { kind: string; message: string }[] } {
  const { schema, problems } = configJsonSchema(registry);
  return { text: `${JSON.stringify(schema, null, 2)}\n`, problems };
}

/** Writes atomically (temporary name, then rename). */
export function writeText(path: string, text: string): void {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  const tmp = `${full}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, full);
}

export const schemaCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('schema')
      .description('write the JSON Schema of a config (every registered stage kind) for editors: # yaml-language-server: $schema=FILE')
      .option('--config <file>', 'also include the stage kinds of the plugins this config names')
      .option('--out <file>', 'write it to a file instead of stdout')
      .action(async (o: { config?: string; out?: string }) => {
        if (o.config) await loadConfigPlugins(tools.registry, o.config, tools);
        const { text, problems } = schemaText(tools.registry);
        for (const p of problems) tools.warn(`stage kind "${p.kind}" left out of the schema: its params cannot be read (${p.message})`);
        if (o.out) {
          writeText(o.out, text);
          tools.warn(`wrote ${o.out}`);
        } else {
          tools.print(text.trimEnd());
        }
      });
  },
};
