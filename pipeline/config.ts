/**
 * load -> validate -> expand, composed: from a config path to the typed experiments it
 * stands for (one per sweep point). Plugins are loaded first, because the stage kinds
 * they register are needed to check the stages.
 */
import { dirname, resolve } from 'node:path';
import { dedupeErrors, fail, ok, type ConfigError, type Result } from './errors.ts';
import { expand, parseOverrides } from './expand.ts';
import { loadSource, type Source } from './load.ts';
import { loadPlugins } from './plugins.ts';
import type { Registry } from './registry.ts';
import { errorAt, sortByLine, validateExperiment, type Experiment } from './validate.ts';

export interface LoadOptions {
  registry: Registry;
  /** `--set PATH=VALUE` overrides. */
  set?: readonly string[];
}

export interface LoadedConfig {
  source: Source;
  /** One per sweep point (one when there is no sweep). */
  experiments: Experiment[];
  /** Plugin modules, absolute paths. */
  plugins: string[];
}

export async function loadConfig(path: string, { registry, set = [] }: LoadOptions): Promise<Result<LoadedConfig>> {
  const loaded = loadSource(path);
  if (!loaded.ok) return loaded;
  const source = loaded.value;
  const base = { source, doc: source.doc, origins: new Map<string, string>() };

  const listed = (source.doc.toJS() as { plugins?: unknown }).plugins;
  const plugins = Array.isArray(listed) ? listed.filter((p): p is string => typeof p === 'string').map((p) => resolve(dirname(source.file), p)) : [];
  const failures = await loadPlugins(registry, plugins);
  if (failures.length) {
    return fail(failures.map((f) => errorAt(base, ['plugins', f.index], `plugin ${(listed as string[])[f.index]}: ${f.message}`)));
  }

  const overrides = parseOverrides(set);
  if (!overrides.ok) return overrides;
  const variants = expand(source, overrides.value);
  if (!variants.ok) return fail(sortByLine(variants.errors));

  const errors: ConfigError[] = [];
  const experiments: Experiment[] = [];
  for (const variant of variants.value) {
    let result = validateExperiment({ where: variant.where, raw: variant.raw, registry, plugins, point: variant.point });
    // --set is typed by the schema: `--set ...name=123` is the string "123" where a string is expected.
    const failed = result.ok ? [] : result.errors.filter((e) => e.file === '--set');
    const retyped = variant.overrides.filter((o) => !o.asString && failed.some((e) => e.path === o.path.join('.') || e.path?.startsWith(`${o.path.join('.')}.`)));
    if (retyped.length) {
      const again = expand(source, variant.overrides.map((o) => (retyped.includes(o) ? { ...o, asString: true } : o)));
      const same = again.ok ? again.value.find((v) => JSON.stringify(v.point) === JSON.stringify(variant.point)) : undefined;
      if (same) {
        const retry = validateExperiment({ where: same.where, raw: same.raw, registry, plugins, point: same.point });
        if (retry.ok || retry.errors.length < (result.ok ? 0 : result.errors.length)) result = retry;
      }
    }
    if (result.ok) experiments.push(result.value);
    else errors.push(...result.errors);
  }
  if (errors.length) return fail(sortByLine(dedupeErrors(errors)));

  const names = new Set<string>();
  for (const e of experiments) {
    if (names.has(e.name)) return fail([errorAt(base, ['sweep'], `two sweep points share the run folder "${e.name}"; make the swept values distinct`)]);
    names.add(e.name);
  }
  return ok({ source, experiments, plugins });
}
