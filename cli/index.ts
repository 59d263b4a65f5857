/**
 * The CLI extensions that know the machine learning: `attrib report` and
 * `attrib compare` (report.ts, drawing on report/) and `attrib init` (init.ts, with the
 * starter configs of starters.ts). The engine's own commands live in pipeline/; these
 * reach the program through the registry's command extension point, registered by the
 * executable (bin/attrib.ts), not by worker threads, which never parse a command line.
 */
import { COMMANDS } from '../pipeline/commands/types.ts';
import type { Registry } from '../pipeline/registry.ts';
import { initCommand } from './init.ts';
import { bindReportCommands } from './report.ts';

export function registerCommands(registry: Registry): void {
  bindReportCommands(registry); // attrib report, attrib compare
  registry.register(COMMANDS, 'init', initCommand); // attrib init
}
