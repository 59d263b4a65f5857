/**
 * Shared by the config-language tests: the real CLI, the registry with the built-in
 * kinds, the generated JSON Schema compiled by a real validator (ajv), YAML as the
 * engine reads it (merge keys on).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { Registry } from '../../pipeline/registry.ts';
import { configJsonSchema, type JsonSchema } from '../../pipeline/schema.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { ROOT } from '../helpers/rig.ts';

export { BIN, cli as attrib, ROOT, tmp, type CliResult } from '../helpers/rig.ts';

export const TOY = join(ROOT, 'tests', 'fixtures', 'engine', 'toy.yaml');

export function builtinRegistry(): Registry {
  const registry = new Registry();
  registerBuiltins(registry);
  return registry;
}

export function compile(schema: JsonSchema): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true });
  return ajv.compile(schema);
}

let cached: ValidateFunction | undefined;
/** The built-in kinds' schema, compiled once per test file. */
export function builtinValidator(): ValidateFunction {
  cached ??= compile(configJsonSchema(builtinRegistry()).schema);
  return cached;
}

/** YAML as the engine reads it: anchors, aliases and `<<` merge keys resolved. */
export function readYaml(text: string): unknown {
  return parse(text, { merge: true });
}

/** Every *.yaml under a folder of the repository (recursive). */
export function yamlFiles(dir: string): string[] {
  const full = join(ROOT, dir);
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}
