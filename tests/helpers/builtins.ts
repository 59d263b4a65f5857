/**
 * One registry with the built-in stage kinds, data sources and model kinds, for tests
 * that call a kind or the library directly (the engine builds its own per run). Shared
 * within a test file: a test that registers something makes its own Registry.
 */
import { Registry } from '../../pipeline/registry.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { MODEL_KINDS } from '../../stages/extensions.ts';
import type { ModelKindTable } from '../../lib/models/index.ts';

let shared: Registry | undefined;

export function builtins(): Registry {
  if (!shared) {
    shared = new Registry();
    registerBuiltins(shared);
  }
  return shared;
}

/** The built-in model kinds, as createNetwork and loadNetwork take them. */
export function builtinModels(): ModelKindTable {
  return builtins().extensions(MODEL_KINDS);
}
