/**
 * Plugins: modules named in a config's `plugins:` that register extra stage kinds, model
 * kinds or data sources through the same Registry the built-in ones use. A module
 * exports `default` (or `register`): (registry) => void | Promise<void>. Worker threads
 * load the same modules, so a plugin's kinds run there like built-in ones.
 */
import { existsSync } from 'node:fs';
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
      failures.push({ index, plugin, message: firstLine(e) });
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

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!;
}
