/**
 * attrib's programmatic API, for researchers who script in TypeScript:
 *
 *   import { defineStage, z, createRegistry, runConfig } from 'attrib';
 *
 * A plugin module (named in a config's `plugins:`) uses the same names:
 *
 *   export default function register(registry: Registry) { registry.registerStage(myKind); }
 *
 * The package's other entry points (package.json `exports`): 'attrib/stage' (the
 * stage-kind API alone, pipeline/registry.ts), 'attrib/npy' (lib/io/npy.ts) and
 * 'attrib/artifacts' (lib/artifacts.ts).
 */
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { loadConfig, type LoadedConfig } from './pipeline/config.ts';
import { fail, ok, type ConfigError, type Result } from './pipeline/errors.ts';
import type { RunEvent } from './pipeline/events.ts';
import { execute, type ExecuteResult } from './pipeline/execute.ts';
import { findExecutor } from './pipeline/executors/index.ts';
import { planExperiment } from './pipeline/plan.ts';
import { Registry } from './pipeline/registry.ts';
import { Store } from './pipeline/store.ts';
import { ATTRIB_VERSION } from './pipeline/version.ts';

export { z } from 'zod';
export {
  Registry,
  RegistryError,
  defineStage,
  extensionPoint,
  hasUnits,
  inputList,
  paramsSchema,
  PREFLIGHTS,
  type Artifact,
  type Extensions,
  type ExtensionPoint,
  type CombineContext,
  type InputSpec,
  type Metrics,
  type Plugin,
  type Preflight,
  type SingleStepKind,
  type StageContext,
  type StageHash,
  type StageKind,
  type StageOutcome,
  type UnitContext,
  type UnitKind,
} from './pipeline/registry.ts';
export { loadConfig, type LoadedConfig, type LoadOptions } from './pipeline/config.ts';
export { formatError, type ConfigError, type Result } from './pipeline/errors.ts';
export type { Experiment, StageSpec, SweepPoint } from './pipeline/validate.ts';
export { planExperiment, entryState, type ExperimentPlan, type StageInstance } from './pipeline/plan.ts';
export { execute, type ExecuteOptions, type ExecuteResult } from './pipeline/execute.ts';
export type { RunEvent } from './pipeline/events.ts';
export { EXECUTORS, type Executor, type ExecutorFactory, type ExecutorEnv, type StageRunner, type StageToRun, type StageHooks } from './pipeline/executor.ts';
export { Store, type Manifest, type RunRecord, type RunEntry, type StageRecord } from './pipeline/store.ts';
export { stageHash, deriveSeed, canonicalJson } from './pipeline/hash.ts';
export { main } from './pipeline/cli.ts';
export { COMMANDS, type CommandExtension, type CommandTools } from './pipeline/commands/types.ts';
// The keys plugins add data sources and model kinds under (light: no tensor code is loaded).
export { DATA_SOURCES, MODEL_KINDS } from './stages/extensions.ts';
export type { DataSource, LoadedSource, SourcePart, SourceRequest } from './lib/data/source.ts';
export type { DataShape, ModelKind } from './lib/models/kinds.ts';

/** Entry module of worker threads: built-in kinds + the config's plugins. */
export const workerEntry = new URL('./bin/worker.js', import.meta.url);

/** A registry with the built-in stage kinds (loaded lazily, so plugins importing 'attrib' stay light). */
export async function createRegistry(): Promise<Registry> {
  const { registerBuiltins } = await import('./stages/index.ts');
  const registry = new Registry();
  registerBuiltins(registry);
  return registry;
}

export interface RunOptions {
  /** Default: createRegistry(). Kinds registered here in code (not in a plugin) need executor 'inline'. */
  registry?: Registry;
  /** `--set PATH=VALUE` overrides. */
  set?: string[];
  /** Default: number of cores. */
  jobs?: number;
  /** Default: ./runs */
  runsDir?: string;
  force?: string[];
  /** 'local' (worker threads, default) or 'inline' (this thread). */
  executor?: string;
  onEvent?: (event: RunEvent) => void;
}

/** Loads, validates, expands and runs a config; config problems come back as values. */
export async function runConfig(config: string, options: RunOptions = {}): Promise<Result<ExecuteResult & { config: LoadedConfig }, ConfigError[]>> {
  const registry = options.registry ?? (await createRegistry());
  const loaded = await loadConfig(config, { registry, set: options.set });
  if (!loaded.ok) return loaded;
  const factory = findExecutor(options.executor ?? 'local', registry);
  if (!factory) return fail([{ message: `unknown executor "${options.executor}"` }]);
  const jobs = options.jobs ?? availableParallelism();
  const store = new Store(resolve(options.runsDir ?? 'runs'));
  const executorOptions = factory.options ? factory.options.parse(loaded.value.experiments[0]!.executor) : loaded.value.experiments[0]!.executor;
  const executor = factory.create({ registry, store, jobs, plugins: loaded.value.plugins, workerEntry, options: executorOptions });
  try {
    const result = await execute(loaded.value.experiments.map(planExperiment), {
      store,
      executor,
      jobs,
      force: options.force,
      onEvent: options.onEvent,
      attribVersion: ATTRIB_VERSION,
    });
    return ok({ ...result, config: loaded.value });
  } finally {
    await executor.close();
  }
}
