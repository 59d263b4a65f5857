/**
 * Step 3: validate. Turns one sweep point's YAML document (--set applied) into a typed
 * Experiment: the top-level shape, each stage's kind, its params (parsed by the kind's
 * own zod schema, defaults applied) and its inputs (against the kind's InputSpec), and
 * the DAG (no cycles). Every problem becomes one ConfigError located at file:line; all
 * problems are reported, not just the first.
 */
import { z } from 'zod';
import { closest, dotted, fail, ok, show, type ConfigError, type Result } from './errors.ts';
import { getPath, type PathSegment } from './load.ts';
import { errorAt, sortByLine, type Where } from './locations.ts';
import { listInputName, ParamsError, paramsSchema as kindParams, type Registry, type StageKind } from './registry.ts';

export const BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const;
/** Stage and experiment names: nothing that could climb out of runs/. */
export const NAME = /^[a-z0-9_-]+$/;

const StageSchema = z.strictObject({
  kind: z.string(),
  inputs: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).default({}),
  params: z.unknown().optional(),
  seed: z.number().int().min(0).optional(),
});

/** Sweep points a config may expand to unless it raises `sweep.maxPoints` (each point is validated, planned, run). */
export const DEFAULT_MAX_POINTS = 1000;

const SweepSchema = z.strictObject({
  grid: z.record(z.string(), z.array(z.unknown()).min(1)).optional(),
  zip: z.record(z.string(), z.array(z.unknown()).min(1)).optional(),
  maxPoints: z.number().int().positive().optional().describe(`refuse to expand to more sweep points than this (default ${DEFAULT_MAX_POINTS}); counted before anything is expanded`),
});

export const ConfigSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME)
    .refine((n) => n !== 'store', 'the name "store" is reserved (runs/store holds the store)'),
  seed: z.number().int().min(0).default(0),
  backend: z.enum(BACKENDS).default('auto'),
  /** Free-form: only there to hold YAML anchors. */
  defaults: z.unknown().optional(),
  plugins: z.array(z.string()).default([]),
  /** Free-form here; validated by the executor that is chosen. */
  executor: z.record(z.string(), z.unknown()).default({}),
  stages: z.record(z.string(), StageSchema),
  sweep: SweepSchema.optional(),
});

const TOP_KEYS = Object.keys(ConfigSchema.shape);
const STAGE_KEYS = Object.keys(StageSchema.shape);

export interface StageSpec {
  name: string;
  kind: StageKind;
  /** Input name -> upstream stage name. */
  inputs: Record<string, string>;
  /** Params after the kind's schema: defaults applied. This is what is hashed. */
  params: unknown;
  /** The seed in force: the stage's own `seed:` or the experiment's. */
  seed: number;
  /** The kind's fingerprint of files its params name (see StageKind.fingerprint); hashed. */
  content?: unknown;
}

export interface SweepPoint {
  path: string;
  /** The short name used in the variant's folder name. */
  key: string;
  value: unknown;
}

export interface Experiment {
  /** Folder name under runs/: `name` or `name@key=value,...` for a sweep point. */
  name: string;
  baseName: string;
  point: SweepPoint[];
  /** The config file, absolute and as displayed. */
  file: string;
  display: string;
  seed: number;
  backend: (typeof BACKENDS)[number];
  /** Plugin modules, absolute paths. */
  plugins: string[];
  executor: Record<string, unknown>;
  /** In topological order (config order among independent stages). */
  stages: StageSpec[];
  /** Stages left out, with why (only when plugins were not loaded: `--no-plugins`). */
  skipped: ConfigError[];
}

const EXPECTED: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  array: 'a list',
  tuple: 'a list',
  null: 'null',
  bigint: 'an integer',
};

type Issue = z.core.$ZodIssue;

/** One zod issue as "expected ..., got ...". Kinds' custom messages are kept as they are. */
export function describeIssue(issue: Issue, got: unknown): string {
  const value = show(got);
  const isDefault = /^(Invalid|Too (small|big)|Unrecognized)/.test(issue.message);
  if (!isDefault) return /\bgot\b/.test(issue.message) ? issue.message : `${issue.message}, got ${value}`;
  switch (issue.code) {
    case 'invalid_type':
      return got === undefined ? `missing: expected ${EXPECTED[issue.expected] ?? issue.expected}` : `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${value}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${value}`;
    case 'invalid_union': {
      if ('options' in issue && Array.isArray(issue.options)) {
        return `expected ${(issue.options as unknown[]).map((v) => JSON.stringify(v)).join(' | ')}, got ${value}`;
      }
      const alternatives = issue.errors
        .filter((alt) => alt.length === 1 && alt[0]!.path.length === 0)
        .map((alt) => describeIssue(alt[0]!, got).replace(/^expected /, '').replace(/, got .*$/, ''));
      if (alternatives.length === issue.errors.length && alternatives.length > 0) return `expected ${alternatives.join(' or ')}, got ${value}`;
      return `${issue.message}, got ${value}`;
    }
    case 'too_small':
    case 'too_big': {
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const what =
        issue.origin === 'array' || issue.origin === 'set'
          ? `${op === '>=' || op === '>' ? 'at least' : 'at most'} ${bound} item(s)`
          : issue.origin === 'string'
            ? `${op === '>=' || op === '>' ? 'at least' : 'at most'} ${bound} character(s)`
            : `a number ${op} ${bound}`;
      return `expected ${what}, got ${value}`;
    }
    case 'invalid_format':
      return `expected ${issue.format === 'regex' && 'pattern' in issue ? `text matching ${issue.pattern}` : issue.format}, got ${value}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}, got ${value}`;
    default:
      return `${issue.message}, got ${value}`;
  }
}

/** Zod issues of a value found at `base` in the document, as located ConfigErrors. */
export function issuesToErrors(
  where: Where,
  base: readonly PathSegment[],
  issues: readonly Issue[],
  input: unknown,
  known?: (path: readonly PropertyKey[]) => readonly string[] | undefined,
): ConfigError[] {
  const errors: ConfigError[] = [];
  // A misspelt required key is reported once, as the unknown key with its hint, not also as missing.
  const hinted = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const candidates = known?.(issue.path) ?? missingKeys(issues, issue.path, input);
    for (const key of issue.keys) {
      const hint = closest(key, candidates);
      if (hint) hinted.add(JSON.stringify([...issue.path, hint]));
    }
  }
  for (const issue of issues) {
    const path = [...base, ...(issue.path as PathSegment[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push(unknownKey(where, [...path, key], known?.(issue.path) ?? missingKeys(issues, issue.path, input)));
      continue;
    }
    if (hinted.has(JSON.stringify(issue.path)) && getPath(input, issue.path as PathSegment[]) === undefined) continue;
    let got = issue.path.length > 0 || issue.input === undefined ? getPath(input, issue.path as PathSegment[]) : issue.input;
    // A discriminated union reports at its key with the whole object as input; the value
    // may not exist in the document at all (a preprocessed shorthand: `source: imagenet`).
    if ('discriminator' in issue && isPlainObject(issue.input)) got = own(issue.input, String(issue.discriminator));
    errors.push(errorAt(where, path, describeIssue(issue, got)));
  }
  return errors;
}

/** Keys the issues say are missing in the object at `at`: what a misspelt key inside params most likely meant. */
function missingKeys(issues: readonly Issue[], at: readonly PropertyKey[], input: unknown): string[] {
  const prefix = JSON.stringify(at).slice(0, -1);
  return issues
    .filter((i) => i.path.length === at.length + 1 && JSON.stringify(i.path).startsWith(prefix) && i.code !== 'unrecognized_keys')
    .filter((i) => getPath(input, i.path as PathSegment[]) === undefined)
    .map((i) => String(i.path.at(-1)));
}

function unknownKey(where: Where, path: readonly PathSegment[], known?: readonly string[]): ConfigError {
  const key = String(path[path.length - 1]);
  const hint = known ? closest(key, known) : undefined;
  const expected = known && known.length > 0 ? ` (expected one of: ${known.join(', ')})` : '';
  return errorAt(where, path, `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : expected}`, { key: true });
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `obj[key]` for a key a user wrote, own properties only: `stages.toString` or an input
 * named `constructor` must not find Object.prototype's members.
 */
export function own<T>(obj: Readonly<Record<string, T>> | undefined, key: PropertyKey): T | undefined {
  return obj !== undefined && obj !== null && Object.hasOwn(obj, key) ? obj[key as string] : undefined;
}

/** The one name a JavaScript object cannot hold as a key (assigning it sets the prototype). */
export const RESERVED_KEY = '__proto__';

/**
 * Keys in the input that the parsed output dropped: a kind's schema built with z.object()
 * strips unknown keys silently, but a typo must not be ignored.
 */
function droppedKeys(where: Where, base: PathSegment[], input: unknown, output: unknown): ConfigError[] {
  if (isPlainObject(input) && isPlainObject(output)) {
    return Object.keys(input).flatMap((k) =>
      Object.hasOwn(output, k) ? droppedKeys(where, [...base, k], input[k], output[k]) : [unknownKey(where, [...base, k], Object.keys(output))],
    );
  }
  if (Array.isArray(input) && Array.isArray(output) && input.length === output.length) {
    return input.flatMap((v, i) => droppedKeys(where, [...base, i], v, output[i]));
  }
  return [];
}

export interface ValidateInput {
  where: Where;
  /** The document as plain JS (sweep values and --set applied). */
  raw: unknown;
  registry: Registry;
  /** Plugin modules as absolute paths (resolved against the config's folder). */
  plugins: string[];
  point: SweepPoint[];
  /**
   * Plugins were not loaded (`--no-plugins`): a stage of a kind the registry does not
   * know is left out with a note, as is every stage that reads it, instead of an error.
   */
  skipUnknownKinds?: boolean;
}

export function validateExperiment({ where, raw, registry, plugins, point, skipUnknownKinds = false }: ValidateInput): Result<Experiment> {
  const skipped: ConfigError[] = [];
  const top = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!top.success) {
    // Report the top-level problems; go on into stages only when they are well-formed.
    const errors = issuesToErrors(where, [], top.error.issues, raw, knownKeys);
    const stages = isPlainObject(raw) ? own(raw, 'stages') : undefined;
    if (!isPlainObject(stages)) return fail(errors);
    const rest = validateStages(where, stages as Record<string, z.infer<typeof StageSchema>>, registry, 0, skipUnknownKinds ? skipped : undefined);
    return fail(sortByLine(dedupe([...errors, ...(rest.ok ? [] : rest.errors)])));
  }
  const config = top.data;
  // The stages as written, not zod's copy: a record parse assigns keys to a fresh object,
  // which silently drops one named __proto__; validateStages refuses that name instead.
  const stages = validateStages(where, (raw as { stages: Record<string, z.infer<typeof StageSchema>> }).stages, registry, config.seed, skipUnknownKinds ? skipped : undefined);
  if (!stages.ok) return stages;
  const name = point.length ? `${config.name}@${point.map((p) => `${p.key}=${variantValue(p.value)}`).join(',')}` : config.name;
  return ok({
    name,
    baseName: config.name,
    point,
    file: where.source.file,
    display: where.source.display,
    seed: config.seed,
    backend: config.backend,
    plugins,
    executor: config.executor,
    stages: stages.value,
    skipped,
  });
}

/** The keys the strict object at a path accepts (top level, a stage, sweep). */
function knownKeys(path: readonly PropertyKey[]): readonly string[] | undefined {
  if (path.length === 0) return TOP_KEYS;
  if (path.length === 2 && path[0] === 'stages') return STAGE_KEYS;
  if (path.length === 1 && path[0] === 'sweep') return ['grid', 'zip', 'maxPoints'];
  return undefined;
}

function dedupe(errors: ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors.filter((e) => !seen.has(JSON.stringify(e)) && !!seen.add(JSON.stringify(e)));
}

/** A sweep value as it appears in a folder name: only [A-Za-z0-9._+-], never a path. */
export function variantValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[^A-Za-z0-9._+-]+/g, '_').slice(0, 40);
}

/** `skipped`, when given, collects the stages left out for an unknown kind (see ValidateInput.skipUnknownKinds). */
function validateStages(where: Where, stages: Record<string, z.infer<typeof StageSchema>>, registry: Registry, seed: number, skipped?: ConfigError[]): Result<StageSpec[]> {
  const errors: ConfigError[] = [];
  const unknownKind = new Set<string>();
  const specs = new Map<string, StageSpec>();
  const names = Object.keys(stages);
  if (names.length === 0) errors.push(errorAt(where, ['stages'], 'expected at least one stage'));

  for (const name of names) {
    const stage = own(stages, name)!;
    const at = ['stages', name];
    if (!NAME.test(name)) {
      errors.push(errorAt(where, at, `stage name "${name}" must match [a-z0-9_-]+`, { key: true }));
      continue;
    }
    if (name === RESERVED_KEY) {
      errors.push(errorAt(where, at, `stage name "${name}" is reserved (it cannot be a key in run.json); choose another`, { key: true }));
      continue;
    }
    if (!isPlainObject(stage) || typeof stage.kind !== 'string') continue; // already reported by the top-level schema
    const kind = registry.stage(stage.kind);
    if (!kind && skipped) {
      unknownKind.add(name);
      skipped.push(errorAt(where, [...at, 'kind'], `stage kind "${stage.kind}" is not built in (a plugin's, not loaded with --no-plugins): stage not checked`));
      continue;
    }
    if (!kind) {
      const hint = closest(stage.kind, registry.stages.keys());
      const known = [...registry.stages.keys()].join(', ') || 'none registered';
      errors.push(errorAt(where, [...at, 'kind'], `unknown stage kind "${stage.kind}"${hint ? `; did you mean "${hint}"?` : ` (known: ${known})`}`));
      continue;
    }

    // Params: the kind's own schema, possibly built from the registry; a broken plugin's may throw.
    let schema: z.ZodType;
    try {
      schema = paramsSchema(kind, registry);
    } catch (e) {
      errors.push(errorAt(where, [...at, 'kind'], `stage kind "${kind.name}" is broken: ${e instanceof Error ? e.message : String(e)}`));
      continue;
    }
    const rawParams = stage.params ?? {};
    const parsed = schema.safeParse(rawParams, { reportInput: true });
    if (!parsed.success) errors.push(...issuesToErrors(where, [...at, 'params'], parsed.error.issues, rawParams));
    else errors.push(...droppedKeys(where, [...at, 'params'], rawParams, parsed.data));

    // Inputs: names the kind declares, each naming an existing stage of a fitting kind
    // (a list of them for a list input, which reaches the kind as input[0], input[1], ...).
    const inputs = isPlainObject(stage.inputs) ? stage.inputs : {};
    const flat: Record<string, string> = {};
    for (const [input, given] of Object.entries(inputs)) {
      const spec = own(kind.inputs, input);
      if (!spec) {
        const declared = Object.keys(kind.inputs);
        const hint = closest(input, declared);
        errors.push(
          errorAt(where, [...at, 'inputs', input], `stage kind "${kind.name}" has no input "${input}"${hint ? `; did you mean "${hint}"?` : ` (it takes: ${declared.join(', ') || 'no inputs'})`}`, { key: true }),
        );
        continue;
      }
      if (Array.isArray(given) && !spec.many) {
        errors.push(errorAt(where, [...at, 'inputs', input], `input "${input}" of stage kind "${kind.name}" takes one stage name, got a list`));
        continue;
      }
      const items = (Array.isArray(given) ? given : [given]).map((upstream, i) => ({ upstream, path: Array.isArray(given) ? [...at, 'inputs', input, i] : [...at, 'inputs', input] }));
      for (const [i, { upstream, path }] of items.entries()) {
        if (typeof upstream !== 'string') continue; // reported by the top-level schema
        const target = own(stages, upstream);
        if (!target) {
          const hint = closest(upstream, names);
          errors.push(errorAt(where, path, `no stage named "${upstream}"${hint ? `; did you mean "${hint}"?` : ''}`));
          continue;
        }
        const upstreamKind = isPlainObject(target) && typeof target.kind === 'string' ? registry.stage(target.kind) : undefined;
        if (upstreamKind && !spec.kinds.includes(upstreamKind.output)) {
          errors.push(errorAt(where, path, `expected an artifact of kind ${spec.kinds.join(' | ')}, got "${upstream}" (a ${upstreamKind.name} stage, which produces ${upstreamKind.output})`));
        }
        flat[spec.many ? listInputName(input, i) : input] = upstream;
      }
    }
    for (const [input, spec] of Object.entries(kind.inputs)) {
      if (!spec.optional && !Object.hasOwn(inputs, input)) {
        errors.push(errorAt(where, Object.keys(inputs).length ? [...at, 'inputs'] : at, `missing input "${input}" (stage kind "${kind.name}" needs an artifact of kind ${spec.kinds.join(' | ')})`));
      }
    }
    if (parsed.success) {
      // Content the params point to (a data file's sha256): hashed with them. A kind
      // reports a mistake there (a missing file) as a ParamsError, shown like any other.
      let content: unknown;
      try {
        content = kind.fingerprint?.(parsed.data, registry);
      } catch (e) {
        if (!(e instanceof ParamsError)) throw e;
        errors.push(errorAt(where, [...at, 'params', ...e.path], e.message));
        continue;
      }
      specs.set(name, { name, kind, inputs: flat, params: parsed.data, seed: stage.seed ?? seed, content });
    }
  }

  const order = topologicalOrder(names, stages);
  for (const cycle of order.cycles) {
    const [first, second] = cycle;
    const [input, given] = Object.entries(own(stages, first!)!.inputs ?? {}).find(([, up]) => up === second || (Array.isArray(up) && up.includes(second!)))!;
    const path = Array.isArray(given) ? ['stages', first!, 'inputs', input, given.indexOf(second!)] : ['stages', first!, 'inputs', input];
    errors.push(errorAt(where, path, `cycle: ${cycle.join(' -> ')}`));
  }
  if (errors.length > 0) return fail(sortByLine(errors));
  // Downstream of a skipped stage: its inputs cannot be hashed, so it is skipped too.
  const left = new Set(unknownKind);
  for (const n of order.order) {
    const up = dependencies(stages, n).find((u) => left.has(u));
    if (up === undefined || left.has(n)) continue;
    left.add(n);
    skipped!.push(errorAt(where, ['stages', n], `not checked: it reads stage "${up}", which is skipped`, { key: true }));
  }
  return ok(order.order.filter((n) => !left.has(n)).map((n) => specs.get(n)!));
}

/** A kind's params schema; throws for a broken plugin's (a getter that throws, not a zod schema). */
/** A kind's params schema as built for `registry`, checked to be one (a broken plugin's may not be). */
function paramsSchema(kind: StageKind, registry: Registry): z.ZodType {
  const schema = kindParams(kind, registry);
  if (typeof schema?.safeParse !== 'function') throw new Error('params is not a zod schema');
  return schema;
}

/**
 * What a `--set` puts at its path: the value as YAML reads it (`n=512` is a number)
 * unless the schema there rejects that and takes the text as typed (`tag=123` where a
 * string is wanted). `doc` is the document as plain JS, where a stage's kind is read.
 */
export function overrideValue(registry: Registry, doc: unknown, override: { path: readonly PathSegment[]; value: unknown; raw: string }): unknown {
  const { path, value, raw } = override;
  if (typeof value === 'string') return value;
  const targets = schemasAtConfigPath(registry, doc, path);
  const accepts = (v: unknown) => targets.some((s) => s.safeParse(v).success);
  return !accepts(value) && accepts(raw) ? raw : value;
}

/** The schemas that apply at a path of the config: the top-level ones, or a stage kind's params. */
function schemasAtConfigPath(registry: Registry, doc: unknown, path: readonly PathSegment[]): z.ZodType[] {
  const [root, stage, field, ...rest] = path;
  if (root !== 'stages' || field !== 'params') return schemasAt(ConfigSchema, path);
  const kindName = getPath(doc, ['stages', stage!, 'kind']);
  const kind = typeof kindName === 'string' ? registry.stage(kindName) : undefined;
  if (!kind) return []; // an unknown kind: validation reports it
  try {
    return schemasAt(paramsSchema(kind, registry), rest);
  } catch {
    return []; // a broken kind: validation reports it
  }
}

type SchemaDef = {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  getter?: () => z.ZodType;
};

/** The schemas that could hold the value at `path` below `schema` (several through a union); none when unknown. */
function schemasAt(schema: z.ZodType, path: readonly PathSegment[]): z.ZodType[] {
  const def = (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  if (def.type === 'lazy') return schemasAt(def.getter!(), path);
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return schemasAt(def.innerType!, path);
    case 'union':
      return def.options!.flatMap((o) => schemasAt(o, path));
    case 'intersection':
      return [def.left!, def.right!].flatMap((o) => schemasAt(o, path));
    case 'pipe':
      return [def.in!, def.out!].flatMap((o) => schemasAt(o, path));
    case 'object': {
      const child = own(def.shape, String(head)) ?? def.catchall;
      return child ? schemasAt(child, rest) : [];
    }
    case 'record':
      return schemasAt(def.valueType!, rest);
    case 'array':
      return typeof head === 'number' ? schemasAt(def.element!, rest) : [];
    case 'tuple': {
      const item = typeof head === 'number' ? (def.items![head] ?? def.rest) : undefined;
      return item ? schemasAt(item, rest) : [];
    }
    default:
      return [];
  }
}

/** Kahn's algorithm, stable in config order; every cycle found is returned once. */
/** The upstream stages a stage names in its inputs (those that exist). */
function dependencies(stages: Record<string, { inputs?: Record<string, string | string[]> }>, name: string): string[] {
  const inputs = own(stages, name)?.inputs;
  return isPlainObject(inputs) ? Object.values(inputs).flat().filter((u): u is string => typeof u === 'string' && Object.hasOwn(stages, u)) : [];
}

function topologicalOrder(names: string[], stages: Record<string, { inputs?: Record<string, string | string[]> }>): { order: string[]; cycles: string[][] } {
  const deps = (n: string) => dependencies(stages, n);
  const order: string[] = [];
  const placed = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const n of names) {
      if (!placed.has(n) && deps(n).every((d) => placed.has(d))) {
        placed.add(n);
        order.push(n);
        progress = true;
      }
    }
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  for (const start of names.filter((n) => !placed.has(n))) {
    // Walk from `start` until a stage repeats: that is a cycle (or leads into one).
    const path: string[] = [];
    const onPath = new Map<string, number>();
    let cur: string | undefined = start;
    while (cur !== undefined && !onPath.has(cur)) {
      onPath.set(cur, path.length);
      path.push(cur);
      cur = deps(cur).find((d) => !placed.has(d));
    }
    if (cur === undefined) continue;
    const cycle = path.slice(onPath.get(cur)!);
    const key = [...cycle].sort().join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    // Start the cycle at the stage declared first, so the message is stable.
    const first = cycle.indexOf(names.find((n) => cycle.includes(n))!);
    const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
    // deps point downstream -> upstream; print the cycle the same way inputs read.
    cycles.push([...rotated, rotated[0]!]);
  }
  return { order, cycles };
}
