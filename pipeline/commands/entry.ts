/**
 * Opening a store entry from the command line, for commands that compute a part of a
 * stage that a coordinator planned elsewhere (`attrib unit`, and what executors' remote
 * jobs run, e.g. `attrib slurm-expand`). Only the plugins named on the command line are
 * loaded, never paths read from the store.
 */
import { resolve } from 'node:path';
import { Option } from 'commander';
import { isStageHash } from '../hash.ts';
import { loadPlugins } from '../plugins.ts';
import type { Registry, StageHash, StageKind } from '../registry.ts';
import { Store } from '../store.ts';
import { collect, UsageError } from './types.ts';

export interface OpenedEntry {
  store: Store;
  kind: StageKind;
  hash: StageHash;
}

/** The entry's store, kind and hash; a bad hash, a missing entry or an unregistered kind is a user's mistake. */
export async function openEntry(registry: Registry, hash: string, o: { runs: string; plugin?: string[] }): Promise<OpenedEntry> {
  if (!isStageHash(hash)) throw new UsageError([{ message: `"${hash}" is not a stage hash (64 hex digits)` }]);
  const store = new Store(resolve(o.runs));
  const record = store.readStage(hash);
  if (!record) throw new UsageError([{ message: `no stage.json in ${store.entry(hash)}` }]);
  const failures = await loadPlugins(registry, (o.plugin ?? []).map((p) => resolve(p)));
  if (failures.length) throw new UsageError(failures.map((f) => ({ file: f.plugin, message: f.message })));
  const kind = registry.stage(record.kind);
  if (!kind) throw new UsageError([{ message: `stage kind "${record.kind}" is not registered: pass the module that registers it with --plugin (the config that planned this entry named: ${record.plugins.join(', ') || 'none'})` }]);
  return { store, kind, hash: hash as StageHash };
}

/** `--plugin <module>` (repeatable), for commands that open an entry. */
export const pluginOption = () => new Option('--plugin <module>', 'a plugin module registering stage kinds (repeatable); only these are loaded, never paths read from the store').argParser(collect);
