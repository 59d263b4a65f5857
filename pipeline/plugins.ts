/**
 * Plugins: modules named in a config's `plugins:` that register extra stage kinds, model
 * kinds or data sources through the same Registry the built-in ones use. A module
 * exports `default` (or `register`): (registry) => void | Promise<void>. Worker threads
 * load the same modules, so a plugin's kinds run there like built-in ones.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin, Registry } from './registry.ts';

const loaded = new WeakMap<Registry, Set<string>>();

export interface PluginFailure {
  /** Index in the config's `plugins:` list. */
  index: number;
  plugin: string;
  message: string;
}

/** Imports each module (absolute paths) once per registry and lets it register. */
export async function loadPlugins(registry: Registry, plugins: readonly string[]): Promise<PluginFailure[]> {
  const done = loaded.get(registry) ?? new Set<string>();
  loaded.set(registry, done);
  const failures: PluginFailure[] = [];
  for (const [index, plugin] of plugins.entries()) {
    if (done.has(plugin)) continue;
    try {
      if (!existsSync(plugin)) throw new Error('no such file');
      const mod = (await importPlugin(plugin)) as { default?: unknown; register?: unknown };
      const register = (typeof mod.default === 'function' ? mod.default : mod.register) as Plugin | undefined;
      if (typeof register !== 'function') {
        throw new Error('exports no register function (expected `export default function (registry) {...}`)');
      }
      await register(registry);
      done.add(plugin);
    } catch (e) {
      failures.push({ index, plugin, message: commonJsTypeScript(plugin, e) ?? firstLine(e) });
    }
  }
  return failures;
}

/**
 * A TypeScript plugin loads as is from the sources (tsx is registered); the compiled
 * executable hands it to tsx, an optional peer dependency (Node 20 cannot strip types).
 */
async function importPlugin(path: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  try {
    return await import(url);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[cm]?ts$/.test(path)) throw e;
  }
  let tsx: typeof import('tsx/esm/api');
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    throw new Error('a TypeScript plugin needs tsx: run `npm install tsx`, or compile it to JavaScript');
  }
  return tsx.tsImport(url, import.meta.url);
}

/**
 * A .ts plugin outside a `"type": "module"` package is loaded as CommonJS, and Node's
 * require(esm) then fails with a message about cycles that says nothing of the cause.
 */
function commonJsTypeScript(plugin: string, e: unknown): string | undefined {
  if (!/\.ts$/.test(plugin)) return undefined;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (!/ERR_REQUIRE_(CYCLE_MODULE|ESM|ASYNC_MODULE)/.test(code) && !/require\(\) ES Module/.test(String(e))) return undefined;
  const pkg = nearestPackageJson(dirname(plugin));
  const [why, fix] = pkg ? [`${pkg} has no "type": "module"`, `add "type": "module" to it`] : ['no package.json above it', 'create one next to it with {"type": "module"}'];
  return `a .ts plugin must be an ES module, but ${why}, so Node loads it as CommonJS; ${fix}, or rename the plugin to .mts`;
}

function nearestPackageJson(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const path = join(d, 'package.json');
    if (existsSync(path)) {
      try {
        return (JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown }).type === 'module' ? undefined : path;
      } catch {
        return path;
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!;
}
