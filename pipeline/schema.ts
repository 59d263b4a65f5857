/**
 * The config as JSON Schema, generated from the zod schemas the engine validates with:
 * the top level (validate.ts's ConfigSchema) and, for `stages`, a union over every
 * registered stage kind by `kind:`, each with its named inputs and its params schema.
 * Editors with the YAML language server complete and check configs with it
 * (`# yaml-language-server: $schema=...` on a config's first line); `attrib kinds` and
 * the reference (docs/reference.md) describe params from the same JSON, so none of them
 * can drift from the code.
 *
 * JSON Schema is a subset check: refinements (`.refine`, `.superRefine`) cannot be
 * expressed and are left to `attrib validate`. Everything the engine rejects that JSON
 * Schema can say is said: unknown keys (`additionalProperties: false` on every object,
 * as the engine reports keys a kind's schema would drop), enums, bounds, required keys,
 * the string shorthand of `{kind}` unions (`model: mlp`).
 */
import { z } from 'zod';
import { knownExecutors } from './executors/index.ts';
import { paramsSchema, type Registry, type StageKind } from './registry.ts';
import { ConfigSchema } from './validate.ts';

/** A JSON Schema (draft-07) object. */
export type JsonSchema = { [keyword: string]: unknown };

export const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';

/**
 * Descriptions of the top-level keys, used where ConfigSchema does not carry its own
 * `.describe()` (its own text wins).
 */
const TOP_LEVEL: Record<string, string> = {
  name: 'experiment name: [a-z0-9_-]+, names the run folder runs/<name>/ (sweep points add @key=value)',
  seed: 'every stage\'s randomness derives from it (a stage\'s own `seed:` overrides it for that stage)',
  backend: 'tensor backend of every stage; recorded in manifests, not part of any hash',
  defaults: 'free-form: only there to hold YAML anchors (&recipe) that stages alias (*recipe, <<: *recipe)',
  plugins: 'modules that register extra stage kinds, model kinds, data sources or executors (paths relative to this file)',
  executor: 'options of the executor in use (`attrib run --executor NAME`), checked by that executor',
  stages: 'stage name ([a-z0-9_-]+) -> {kind, inputs, params, seed}; the DAG is given by the inputs',
  sweep: 'grid: cartesian product of value lists; zip: lists walked in lock step; keys are dotted paths (stages.NAME.params.a.b)',
};

const STAGE_KEYS: Record<string, string> = {
  kind: 'the stage kind (`attrib kinds` lists them)',
  inputs: 'input name -> the name of the upstream stage whose artifact it reads (a list of names for a list input)',
  params: 'the kind\'s params; defaults are applied before hashing',
  seed: 'this stage\'s seed, instead of the experiment\'s',
};

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** zod -> JSON Schema (input side: what a person writes), cleaned for editors. */
export function zodToJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      addShorthand(zodSchema as unknown as z.ZodType, jsonSchema as JsonSchema);
      keepDefault(zodSchema as unknown as z.ZodType, jsonSchema as JsonSchema);
    },
  }) as JsonSchema;
  delete json.$schema;
  return tidy(json);
}

/**
 * `z.preprocess(v => typeof v === 'string' ? {kind: v} : v, union)`: the string form is
 * invisible to JSON Schema. Offer the strings the schema itself accepts: each `kind`
 * of the union that parses on its own (`model: mlp` yes, `source: csv` needs a path).
 */
function addShorthand(schema: z.ZodType, json: JsonSchema): void {
  const def = (schema as unknown as { _zod: { def: { type: string; in?: { _zod: { traits: Set<string> } } } } })._zod.def;
  if (def.type !== 'pipe' || !def.in?._zod.traits.has('$ZodTransform')) return;
  const candidates = new Set<string>();
  for (const branch of [...asArray(json.oneOf), ...asArray(json.anyOf)]) {
    const kind = ((branch as JsonSchema)?.properties as Record<string, JsonSchema> | undefined)?.kind;
    if (kind && typeof kind.const === 'string') candidates.add(kind.const);
  }
  const accepted = [...candidates].filter((c) => schema.safeParse(c).success);
  if (accepted.length === 0) return;
  const inner: JsonSchema = { ...json };
  const outer: JsonSchema = {};
  for (const key of ['description', 'default', 'title', 'examples']) {
    if (key in inner) {
      outer[key] = inner[key];
      delete inner[key];
    }
  }
  for (const key of Object.keys(json)) delete json[key];
  Object.assign(json, outer, { anyOf: [{ type: 'string', enum: accepted, description: `shorthand for {kind: ${accepted.join(' | ')}}` }, inner] });
}

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** zod 4.6 drops the default of `.default()` around a preprocess when flattening: put it back. */
function keepDefault(schema: z.ZodType, json: JsonSchema): void {
  const def = (schema as unknown as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def;
  if (def.type !== 'default' || 'default' in json) return;
  try {
    json.default = JSON.parse(JSON.stringify(def.defaultValue));
  } catch {
    // Not JSON (a bigint): leave it out, as zod does.
  }
}

/** Drops safe-integer bounds (noise), and closes objects: the engine rejects unknown keys everywhere. */
function tidy(json: JsonSchema): JsonSchema {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const s = node as JsonSchema;
    if (s.maximum === SAFE_INT) delete s.maximum;
    if (s.minimum === -SAFE_INT) delete s.minimum;
    if (s.type === 'object' && s.properties && s.additionalProperties === undefined) s.additionalProperties = false;
    for (const [key, value] of Object.entries(s)) {
      if (key === 'default' || key === 'const' || key === 'enum' || key === 'examples') continue;
      walk(value);
    }
  };
  walk(json);
  return json;
}

/** A kind's params as JSON Schema. Throws when the kind's params builder does (a broken plugin). */
export function paramsJsonSchema(kind: StageKind, registry: Registry): JsonSchema {
  const schema = paramsSchema(kind, registry);
  if (typeof (schema as { safeParse?: unknown })?.safeParse !== 'function') throw new Error('params is not a zod schema');
  return zodToJsonSchema(schema);
}

/** A stage entry's own `seed:` as ConfigSchema declares it. */
function stageSeedSchema(): JsonSchema {
  const top = zodToJsonSchema(ConfigSchema) as { properties: { stages: { additionalProperties: { properties: { seed: JsonSchema } } } } };
  return top.properties.stages.additionalProperties.properties.seed;
}

/** `stages.<name>` for one kind: its `kind` const, named inputs, params and seed. */
export function stageJsonSchema(kind: StageKind, registry: Registry): JsonSchema {
  const params = paramsJsonSchema(kind, registry);
  const inputs = Object.entries(kind.inputs);
  const required = ['kind'];
  if (asArray(params.required).length > 0) required.push('params');
  if (inputs.some(([, spec]) => !spec.optional)) required.push('inputs');
  const inputsSchema: JsonSchema = {
    type: 'object',
    description: inputs.length ? STAGE_KEYS.inputs : `stage kind "${kind.name}" takes no inputs`,
    properties: Object.fromEntries(
      inputs.map(([name, spec]) => [
        name,
        spec.many
          ? {
              anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
              description: `names of stages producing ${spec.kinds.join(' | ')} (a list, or one name)${spec.optional ? ' (optional)' : ''}${spec.description ? `: ${spec.description}` : ''}`,
            }
          : { type: 'string', description: `name of a stage producing ${spec.kinds.join(' | ')}${spec.optional ? ' (optional)' : ''}${spec.description ? `: ${spec.description}` : ''}` },
      ]),
    ),
    additionalProperties: false,
  };
  const requiredInputs = inputs.filter(([, spec]) => !spec.optional).map(([name]) => name);
  if (requiredInputs.length) inputsSchema.required = requiredInputs;
  return {
    title: kind.name,
    description: [`${kind.name}: ${kind.description}`, kind.equation, `output: ${kind.output}`].filter(Boolean).join('\n\n'),
    type: 'object',
    properties: {
      kind: { const: kind.name, description: kind.description },
      inputs: inputsSchema,
      params: { ...params, description: params.description ?? STAGE_KEYS.params },
      seed: { ...stageSeedSchema(), description: STAGE_KEYS.seed },
    },
    required,
    additionalProperties: false,
  };
}

export interface SchemaProblem {
  kind: string;
  message: string;
}

export interface ConfigSchemaResult {
  schema: JsonSchema;
  /** Kinds left out because their params could not be read (a broken plugin). */
  problems: SchemaProblem[];
}

/**
 * The whole config as JSON Schema: the top level from ConfigSchema, `stages` as a map
 * whose values are a `oneOf` over the registered kinds (told apart by `kind`).
 */
export function configJsonSchema(registry: Registry): ConfigSchemaResult {
  const top = zodToJsonSchema(ConfigSchema);
  const properties = top.properties as Record<string, JsonSchema>;
  for (const [key, text] of Object.entries(TOP_LEVEL)) {
    if (properties[key] && properties[key].description === undefined) properties[key].description = text;
  }
  // ConfigSchema's refine on `name` ("store" is reserved) is not representable by zod's converter.
  properties.name = { ...properties.name, not: { const: 'store' } };

  const problems: SchemaProblem[] = [];
  const definitions: Record<string, JsonSchema> = {};
  const kinds = [...registry.stages.values()];
  for (const kind of kinds) {
    try {
      definitions[`stage-${kind.name}`] = stageJsonSchema(kind, registry);
    } catch (e) {
      problems.push({ kind: kind.name, message: e instanceof Error ? e.message : String(e) });
    }
  }
  const names = Object.keys(definitions).map((d) => d.slice('stage-'.length));
  properties.stages = {
    description: properties.stages?.description ?? TOP_LEVEL.stages,
    type: 'object',
    minProperties: 1,
    propertyNames: { pattern: '^[a-z0-9_-]+$' },
    additionalProperties: {
      type: 'object',
      description: `a stage: kind (${names.join(', ')}), inputs, params, seed`,
      required: ['kind'],
      properties: { kind: { enum: names, description: STAGE_KEYS.kind } },
      oneOf: names.map((n) => ({ $ref: `#/definitions/stage-${n}` })),
    },
  };

  // Executor options: free-form (the executor chosen on the command line checks them),
  // but offer the keys every known executor understands for completion.
  const executorProps: Record<string, JsonSchema> = {};
  const executorNames: string[] = [];
  for (const factory of knownExecutors(registry)) {
    executorNames.push(factory.name);
    if (!factory.options) continue;
    try {
      const json = zodToJsonSchema(factory.options);
      // Keep, per key, the richest schema: executors share sections (`bullmq:`, `slurm:`)
      // where each describes its own and leaves the others free-form.
      for (const [key, value] of Object.entries((json.properties as Record<string, JsonSchema>) ?? {})) {
        const size = (v: JsonSchema | undefined) => (v ? JSON.stringify(v).length : -1);
        if (size(value) > size(executorProps[key])) executorProps[key] = value;
      }
    } catch {
      // An executor whose options cannot be shown is still free-form here.
    }
  }
  properties.executor = {
    description: `${properties.executor?.description ?? TOP_LEVEL.executor}; executors: ${executorNames.join(', ')}`,
    type: 'object',
    ...(Object.keys(executorProps).length ? { properties: executorProps } : {}),
  };

  const ordered: JsonSchema = {
    $schema: JSON_SCHEMA_DRAFT,
    title: 'attrib experiment config',
    description: 'An attrib experiment: a DAG of stages (dataset, subsets, train, linearize, trak, ..., lds) run as a cached, resumable pipeline. Generated from the zod schemas by `attrib schema`; do not edit.',
    ...top,
    definitions,
  };
  return { schema: ordered, problems };
}

// ---------------------------------------------------------------------------
// Reading params out of the JSON Schema, for `attrib kinds NAME` and the reference.

/** One param, flattened: `fit.optimizer.lr`. */
export interface ParamDoc {
  /** Dotted path under `params`. */
  path: string;
  /** Set for a param of one variant of a `{kind: ...}` union: e.g. `model.kind: mlp`. */
  when?: string;
  type: string;
  required: boolean;
  hasDefault: boolean;
  default?: unknown;
  description?: string;
}

const isObject = (s: JsonSchema | undefined): boolean => !!s && (s.type === 'object' || !!s.properties) && !!s.properties;

/** The branches of a union, flattening nested unions. */
function branches(s: JsonSchema): JsonSchema[] {
  const list = [...asArray(s.anyOf), ...asArray(s.oneOf)] as JsonSchema[];
  return list.flatMap((b) => (b.anyOf || b.oneOf) && !b.type ? branches(b) : [b]);
}

/** The kind-discriminated object variants of a (possibly shorthand) union, or none. */
function kindVariants(s: JsonSchema): { kind: string; schema: JsonSchema }[] {
  const objects = branches(s).filter(isObject);
  const variants = objects
    .map((b) => ({ kind: ((b.properties as Record<string, JsonSchema>).kind?.const as string | undefined) ?? '', schema: b }))
    .filter((v) => v.kind !== '');
  return variants.length === objects.length && variants.length > 0 ? variants : [];
}

const num = (v: unknown) => (typeof v === 'number' ? String(v) : '');

/** A JSON Schema as a short type text: `integer > 0`, `"exact" | "bernoulli"`, `list of string`. */
export function typeText(s: JsonSchema | undefined): string {
  if (!s || Object.keys(s).filter((k) => !['description', 'default', 'title'].includes(k)).length === 0) return 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.anyOf || s.oneOf) {
    const variants = kindVariants(s);
    const strings = branches(s).filter((b) => b.type === 'string' && Array.isArray(b.enum));
    if (variants.length) {
      const shorthand = strings.length ? ' or the kind alone' : '';
      return `{kind: ${variants.map((v) => v.kind).join(' | ')}, ...}${shorthand}`;
    }
    return [...new Set(branches(s).map(typeText))].join(' | ');
  }
  const bounds = (name: string) => {
    const parts: string[] = [];
    const lo = s.exclusiveMinimum !== undefined ? `> ${num(s.exclusiveMinimum)}` : s.minimum !== undefined ? `≥ ${num(s.minimum)}` : '';
    const hi = s.exclusiveMaximum !== undefined ? `< ${num(s.exclusiveMaximum)}` : s.maximum !== undefined ? `≤ ${num(s.maximum)}` : '';
    if (lo) parts.push(lo);
    if (hi) parts.push(hi);
    return parts.length ? `${name} ${parts.join(', ')}` : name;
  };
  switch (s.type) {
    case 'integer':
      return bounds('integer');
    case 'number':
      return bounds('number');
    case 'boolean':
      return 'boolean';
    case 'string': {
      if (typeof s.pattern === 'string') return `string matching ${s.pattern}`;
      if (s.minLength === s.maxLength && typeof s.minLength === 'number') return `string of ${s.minLength} character${s.minLength === 1 ? '' : 's'}`;
      return 'string';
    }
    case 'array': {
      const items = s.items as JsonSchema | undefined;
      const count = typeof s.minItems === 'number' && s.minItems > 0 ? ` (at least ${s.minItems})` : '';
      const inner = typeText(items);
      return `list of ${/[|,]/.test(inner) ? `(${inner})` : inner}${count}`;
    }
    case 'object': {
      if (!s.properties) {
        const values = s.additionalProperties as JsonSchema | boolean | undefined;
        return values && typeof values === 'object' ? `mapping of ${typeText(values)}` : 'mapping';
      }
      const props = s.properties as Record<string, JsonSchema>;
      const required = new Set(asArray(s.required) as string[]);
      const keys = Object.keys(props);
      const nested = keys.some((k) => isObject(props[k]) || !!props[k]!.anyOf || !!props[k]!.oneOf);
      if (keys.length <= 3 && !nested) return `{${keys.map((k) => `${k}${required.has(k) ? '' : '?'}: ${typeText(props[k])}`).join(', ')}}`;
      return `{${keys.map((k) => `${k}${required.has(k) ? '' : '?'}`).join(', ')}}`;
    }
    default:
      return Array.isArray(s.type) ? s.type.join(' | ') : 'any';
  }
}

/**
 * Flattens an object schema into one row per param, nested objects as dotted paths and
 * `{kind: ...}` unions as one row plus the rows of each variant (`when: model.kind: mlp`).
 */
export function describeParams(schema: JsonSchema): ParamDoc[] {
  const rows: ParamDoc[] = [];
  const visit = (s: JsonSchema, prefix: string, when: string | undefined) => {
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set(asArray(s.required) as string[]);
    for (const [key, prop] of Object.entries(props)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (key === 'kind' && when) continue; // the variant's own discriminator
      const mapping = isObject(prop) && !prop.anyOf && !prop.oneOf;
      rows.push({
        path,
        when,
        type: mapping ? 'mapping' : typeText(prop),
        required: required.has(key),
        hasDefault: 'default' in prop,
        default: prop.default,
        description: prop.description as string | undefined,
      });
      if (mapping) visit(prop, path, when);
      for (const v of kindVariants(prop)) {
        const own = Object.keys(v.schema.properties as object).filter((k) => k !== 'kind');
        if (own.length) visit(v.schema, path, `${path}.kind: ${v.kind}`);
      }
    }
  };
  visit(schema, '', undefined);
  return rows;
}

/** A default as it reads in YAML flow style: 0.5, "exact", [128], {relative: 0.05}. */
export function yamlText(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return /^[A-Za-z_][\w.-]*$/.test(value) && !['true', 'false', 'null', 'yes', 'no'].includes(value) ? value : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(yamlText).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${k}: ${yamlText(v)}`).join(', ')}}`;
  return String(value);
}
