/**
 * The command line: builds the program and dispatches. Each command is a module of its
 * own (pipeline/commands/), a thin shell over the steps (config -> plan -> execute ->
 * record); executors add theirs (pipeline/executors/<name>/), and CLI extensions and
 * plugins theirs through the registry. Exit codes are 0 done, 1 a stage failed, 2
 * invalid config or arguments. User mistakes print one line each, never a stack trace.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { collect, COMMANDS, EXIT, UsageError, type CommandExtension, type CommandTools, type LoadFlags, type OutputStream } from './commands/types.ts';
import { loadConfig, type LoadedConfig } from './config.ts';
import { formatError } from './errors.ts';
import type { Registry } from './registry.ts';
import { printable } from './terminal.ts';
import { ATTRIB_VERSION } from './version.ts';

export interface CliEnv {
  /** Built-in kinds already registered; config plugins are added to it. */
  registry: Registry;
  /** Entry module of worker threads (bin/worker.js). */
  workerEntry: URL;
  /** What `--version` prints (default: the package version). */
  version?: string;
  stdout?: OutputStream;
  stderr?: OutputStream;
}

/**
 * The engine's own commands, in the order `attrib --help` lists them: the names (and
 * aliases) each answers to, and its module, imported only when needed (start-up time,
 * issue 18: `attrib validate` need not load what `attrib run` executes with).
 */
const ENGINE_COMMANDS: readonly { names: readonly string[]; load: () => Promise<CommandExtension> }[] = [
  { names: ['run'], load: async () => (await import('./commands/run.ts')).runCommand },
  { names: ['runs', 'log'], load: async () => (await import('./commands/runs.ts')).runsCommand },
  { names: ['plan'], load: async () => (await import('./commands/plan.ts')).planCommand },
  { names: ['status'], load: async () => (await import('./commands/status.ts')).statusCommand },
  { names: ['dag'], load: async () => (await import('./commands/dag.ts')).dagCommand },
  { names: ['validate'], load: async () => (await import('./commands/validate.ts')).validateCommand },
  { names: ['unit'], load: async () => (await import('./commands/unit.ts')).unitCommand },
  { names: ['gc'], load: async () => (await import('./commands/gc.ts')).gcCommand },
  { names: ['verify'], load: async () => (await import('./commands/verify.ts')).verifyCommand },
  { names: ['kinds'], load: async () => (await import('./commands/kinds.ts')).kindsCommand },
  { names: ['schema'], load: async () => (await import('./commands/schema.ts')).schemaCommand },
];

/**
 * The commands to define for `argv`: when its first word names an engine command, that
 * command alone (nothing else can run; the registry's commands are defined beside it all
 * the same); otherwise (`attrib --help`, `attrib help run`, a contributed command, a
 * typo to suggest a name for) every engine command, then the executors' (e.g.
 * `attrib worker`), then contributed ones.
 */
async function commandsFor(argv: readonly string[], registry: Registry): Promise<CommandExtension[]> {
  const extensions = [...registry.extensions(COMMANDS).values()];
  const chosen = ENGINE_COMMANDS.find((c) => c.names.includes(argv[0] ?? ''));
  if (chosen) return [await chosen.load(), ...extensions];
  const engine: CommandExtension[] = [];
  for (const c of ENGINE_COMMANDS) engine.push(await c.load()); // one at a time: the order the static imports had
  const { knownExecutors } = await import('./executors/index.ts');
  return [...engine, ...knownExecutors(registry).flatMap((f) => f.commands ?? []), ...extensions];
}

/** Runs the CLI on `argv` (the arguments after the program name); resolves to the exit code. */
export async function main(argv: readonly string[], env: CliEnv): Promise<number> {
  const out = env.stdout ?? process.stdout;
  const err = env.stderr ?? process.stderr;
  let code: number = EXIT.ok;

  const program = new Command('attrib')
    .description('Data-attribution experiments (TRAK, datamodels, LDS) declared in YAML, run as cached, resumable DAGs.')
    .version(env.version ?? ATTRIB_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });

  const tools: CommandTools = {
    registry: env.registry,
    load: async (config: string, set: string[] = [], opts: LoadFlags = {}): Promise<LoadedConfig> => {
      const loaded = await loadConfig(config, { registry: env.registry, set, plugins: opts.plugins, sweep: opts.sweep, zip: opts.zip });
      if (!loaded.ok) throw new UsageError(loaded.errors);
      for (const note of loaded.value.skipped) err.write(`${formatError(note)}\n`);
      return loaded.value;
    },
    print: (text = '') => out.write(`${printable(text)}\n`),
    warn: (text) => err.write(`${printable(text)}\n`),
    fail: (message, file) => {
      throw new UsageError([{ file, message }]);
    },
    setExitCode: (c) => {
      code = c;
    },
    runsOption: () =>
      new Option('--runs <dir>', 'where run folders and the store live')
        .default('./runs')
        .argParser((dir: string) => {
          // An empty value would resolve to the current folder.
          if (dir.trim() === '') throw new InvalidArgumentError('name a folder (the default is ./runs)');
          return dir;
        }),
    noPluginsOption: () => new Option('--no-plugins', "do not import the config's plugins (they are code): inspect an untrusted config; stages of plugin kinds are skipped"),
    setOption: () => new Option('--set <path=value>', 'override a config value (repeatable), e.g. defaults.recipe.fit.epochs=3 (in the quickstart, the recipe of every train stage)').argParser(collect),
    sweepOptions: (command) =>
      command
        .addOption(new Option('--sweep <path=values>', 'sweep a config value from the command line, e.g. stages.scores.params.lambda.relative=0.05,0.2,1 (repeatable: a grid)').argParser(collect))
        .addOption(new Option('--zip', 'walk the --sweep lists in lock step instead of as a grid')),
    stderr: err,
    workerEntry: env.workerEntry,
  };
  for (const command of await commandsFor(argv, env.registry)) command.define(program, tools);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      err.write(`${printable(e.message)}\n`);
      return EXIT.usage;
    }
    // Not a user's mistake: a bug or an environment problem. Keep the stack for a report.
    err.write(`attrib: internal error: ${printable(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
    return EXIT.failed;
  }
  return code;
}
