/**
 * What a command of the CLI is made of, apart from the program that runs it
 * (pipeline/cli.ts): the engine's own commands (this folder), the ones executors
 * contribute (pipeline/executors/<name>/) and CLI extensions (cli/, plugins) all
 * define themselves against these types, so none of them imports cli.ts.
 */
import type { Command, Option } from 'commander';
import type { LoadedConfig } from '../config.ts';
import { formatError, type ConfigError } from '../errors.ts';
import { extensionPoint, type Registry } from '../registry.ts';

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A user's mistake found while running a command: printed as is, exit 2. */
export class UsageError extends Error {
  constructor(readonly errors: ConfigError[]) {
    super(errors.map(formatError).join('\n'));
  }
}

/**
 * A command: the engine's own (pipeline/commands/), one an executor contributes
 * (ExecutorFactory.commands), or one contributed from outside the engine (report,
 * compare, init...), registered with `registry.register(COMMANDS, name, extension)` by
 * the executable (cli/, through bin/attrib.ts) or by a plugin. The program defines them
 * in that order.
 */
export interface CommandExtension {
  define(program: Command, tools: CommandTools): void;
}

/** The extension point of contributed commands. */
export const COMMANDS = extensionPoint<CommandExtension>('command');

/** What `--sweep` and `--zip` parse to. */
export interface SweepFlags {
  sweep?: string[];
  zip?: boolean;
}

/** What CommandTools.load reads from a command's options: `--no-plugins` and the sweep flags. */
export interface LoadFlags extends SweepFlags {
  plugins?: boolean;
}

/** A stream a command writes to (stdout, stderr). */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CommandTools {
  registry: Registry;
  /**
   * Loads and validates a config (plugins included unless `plugins: false`, see
   * noPluginsOption; `--sweep`/`--zip` points from `sweep`/`zip`); a user's mistake
   * exits 2. Stages skipped without plugins are printed to stderr, one line each.
   * A command's parsed options can be passed as they are.
   */
  load(config: string, set?: string[], opts?: LoadFlags): Promise<LoadedConfig>;
  print(text?: string): void;
  /** Writes to stderr. */
  warn(text: string): void;
  /** Stops the command as a user's mistake: prints `message`, exit code 2. */
  fail(message: string, file?: string): never;
  setExitCode(code: number): void;
  /** The standard `--runs <dir>` option (default ./runs). */
  runsOption(): Option;
  /** The standard repeatable `--set path=value` option. */
  setOption(): Option;
  /** `--no-plugins`: inspect a config without running its plugins' code (o.plugins is then false). */
  noPluginsOption(): Option;
  /** Adds the `--sweep path=a,b,...` (repeatable) and `--zip` options to a command. */
  sweepOptions(command: Command): Command;
  /** stderr itself, for progress displays that need to know whether it is a terminal. */
  stderr: OutputStream;
  /** Entry module of worker threads (bin/worker.js), for commands that run units in threads. */
  workerEntry: URL;
}


/** commander's collector for repeatable options. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];
