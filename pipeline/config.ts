/**
 * The config steps composed: from a config path to the typed experiments it stands for
 * (one per sweep point), reading top to bottom as
 *   1. load      the YAML with its source positions, the plugins it names (their stage
 *                kinds are needed to check its stages), the --set overrides;
 *   2. expand    one document per sweep point, --set applied and typed by the schema;
 *   3. validate  each point's document, once.
 * Every user's mistake comes back as a located ConfigError, in file order.
 */
import { dirname, resolve } from 'node:path';
import { dedupeErrors, fail, ok, type ConfigError, type Result } from './errors.ts';
import { expand, parseOverrides, parseSweeps } from './expand.ts';
import { loadSource, type Source } from './load.ts';
import { loadPlugins } from './plugins.ts';
import type { Registry } from './registry.ts';
import { errorAt, sortByLine, whereIn } from './locations.ts';
import { validateExperiment, type Experiment } from './validate.ts';

export interface LoadOptions {
  registry: Registry;
  /** `--set PATH=VALUE` overrides. */
  set?: readonly string[];
  /**
   * Import the config's plugins (default). A plugin is code that runs on `validate`,
   * `plan` and `dag` too; false inspects an untrusted config without running it: stages
   * of kinds the registry does not know are left out with a note (LoadedConfig.skipped).
   */
  plugins?: boolean;
  /** `--sweep PATH=A,B,...` dimensions from the command line (grid, or zip with `zip`). */
  sweep?: readonly string[];
  zip?: boolean;
}

export interface LoadedConfig {
  source: Source;
  /** One per sweep point (one when there is no sweep). */
  experiments: Experiment[];
  /** Each point's resolved document (sweep values and --set applied), for its run record. */
  documents: unknown[];
  /** The --set overrides as typed. */
  overrides: string[];
  /** Plugin modules, absolute paths. */
  plugins: string[];
  /** Stages left out because plugins were not loaded, located, with why; in file order. */
  skipped: ConfigError[];
}

export async function loadConfig(path: string, { registry, set = [], plugins: trusted = true, sweep = [], zip }: LoadOptions): Promise<Result<LoadedConfig>> {
  // 1. load
  const loaded = loadSource(path);
  if (!loaded.ok) return loaded;
  const source = loaded.value;
  const plugins = trusted ? await loadConfigPlugins(source, registry) : ok([] as string[]);
  if (!plugins.ok) return plugins;
  const overrides = parseOverrides(set);
  if (!overrides.ok) return overrides;
  const sweeps = parseSweeps(sweep);
  if (!sweeps.ok) return sweeps;

  // 2. expand
  const variants = expand(source, overrides.value, registry, { sweeps: sweeps.value, zip });
  if (!variants.ok) return fail(sortByLine(variants.errors));

  // 3. validate
  const validated = variants.value.map((v) => validateExperiment({ where: v.where, raw: v.raw, registry, plugins: plugins.value, point: v.point, skipUnknownKinds: !trusted }));
  const errors = validated.flatMap((r) => (r.ok ? [] : r.errors));
  if (errors.length) return fail(sortByLine(dedupeErrors(errors)));
  const experiments = validated.map((r) => (r as { value: Experiment }).value);
  const clash = sharedRunFolder(experiments);
  if (clash) return fail([errorAt(whereIn(source), ['sweep'], `two sweep points share the run folder "${clash}"; make the swept values distinct`)]);
  const documents = variants.value.map((v) => withoutSweep(v.raw));
  return ok({ source, experiments, documents, overrides: [...set], plugins: plugins.value, skipped: sortByLine(dedupeErrors(experiments.flatMap((e) => e.skipped))) });
}

/** Loads the plugins the config lists (paths relative to its folder); their failures are located at the list items. */
async function loadConfigPlugins(source: Source, registry: Registry): Promise<Result<string[]>> {
  const listed = (source.doc.toJS() as { plugins?: unknown }).plugins;
  const plugins = Array.isArray(listed) ? listed.filter((p): p is string => typeof p === 'string').map((p) => resolve(dirname(source.file), p)) : [];
  const failures = await loadPlugins(registry, plugins);
  if (failures.length) return fail(failures.map((f) => errorAt(whereIn(source), ['plugins', f.index], `plugin ${(listed as string[])[f.index]}: ${f.message}`)));
  return ok(plugins);
}

/** A run folder name two sweep points would share, if any. */
function sharedRunFolder(experiments: Experiment[]): string | undefined {
  const names = new Set<string>();
  for (const e of experiments) {
    if (names.has(e.name)) return e.name;
    names.add(e.name);
  }
  return undefined;
}

/** A point's document without its `sweep:` section (the point's values are already in it). */
function withoutSweep(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const { sweep: _, ...rest } = raw as Record<string, unknown>;
  return rest;
}
