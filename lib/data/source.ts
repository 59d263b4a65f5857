/**
 * Data sources: where the `dataset` stage gets its examples. A source is a plain object
 * in a table of sources (name -> source): the registry's DATA_SOURCES table
 * (stages/extensions.ts), which holds the built-ins (sources/index.ts) and a plugin's
 * own. The functions here take that table as an argument; the `dataset` kind builds its
 * params schema from it when a config is validated, so a plugin's source is as good as
 * a built-in one.
 *
 * A source returns either one `pool` that the dataset stage splits at random into train
 * and test, or a `train` and a `test` part that are used as given (never mixed).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/** Examples of one part of a source, row-major. */
export interface SourcePart {
  /**
   * [n · featureSize] values. Uint8Array parts (images shipped as bytes) are multiplied
   * by `scale` when materialized, so a 70,000-image source costs 1 byte a pixel.
   */
  x: Float32Array | Uint8Array;
  /** Multiplier applied to uint8 values (default 1). */
  scale?: number;
  /** int32 [n]: class labels 0..classes-1. */
  y: Int32Array;
  /** int32 [n]: group id 0..groups-1 per example (−1 = none), when the source has `groups`. */
  group?: Int32Array;
  n: number;
}

export interface LoadedSource {
  /** Shape of one example: [features] for tabular, [H, W, C] for images. */
  featureShape: number[];
  classes: number;
  classNames?: string[];
  featureNames?: string[];
  image: boolean;
  /** One pool, split at random by the dataset stage. */
  pool?: SourcePart;
  /** Or a train and a test part used as given. */
  train?: SourcePart;
  test?: SourcePart;
  /** Files read, with their content hash (the stage hash covers params only). */
  files?: { path: string; sha256: string }[];
  /** When examples belong to groups (e.g. a csv groupColumn): its name and the group names; parts carry `group`. */
  groups?: { name: string; names: string[] };
}

/** What the dataset stage asks for (a synthetic source makes exactly this many). */
export interface SourceRequest {
  train?: number;
  test?: number;
}

export interface DataSource<O extends { kind: string } = { kind: string }> {
  name: string;
  description: string;
  /** zod schema of the source object, `kind: z.literal(name)` included; strict. */
  options: z.ZodType<O>;
  load(options: O, request: SourceRequest): LoadedSource | Promise<LoadedSource>;
  /**
   * The files these options read, each with the option key naming it (e.g. `path`,
   * `xTest`), so the dataset stage hashes their content and reports a missing one at
   * the right line of the config.
   */
  files?(options: O): { key: string; path: string }[];
  /**
   * Key of the in-process cache (default: the options as JSON). Return undefined for a
   * source that must not be cached.
   */
  cacheKey?(options: O, request: SourceRequest): string | undefined;
}

export class DataSourceError extends Error {}

/**
 * A mistake in the `source:` options that only reading the disk reveals (a file that
 * does not exist), with the options path it sits at (e.g. ['source', 'path']).
 */
export class SourceFileError extends DataSourceError {
  constructor(
    message: string,
    readonly path: readonly (string | number)[],
  ) {
    super(message);
  }
}

/** The registered sources by name. */
export type SourceTable = ReadonlyMap<string, DataSource<any>>;

/** The discriminated union needs each schema to be an object whose `kind` is the literal name. */
function checkKindLiteral(name: string, schema: unknown): void {
  const kind = (schema as { shape?: { kind?: { value?: unknown } } }).shape?.kind;
  if (kind?.value !== name) throw new Error(`data source "${name}": its params schema must be a z.object with kind: z.literal("${name}")`);
}

/**
 * Schema of `source:`, built from the table at validation time: a discriminated union
 * over the registered sources' option schemas. A bare string is shorthand for
 * `{kind: string}`, normalized before validation, so both spellings hash the same.
 */
export function sourceSchema(table: SourceTable): z.ZodType<{ kind: string }> {
  for (const [name, s] of table) checkKindLiteral(name, s.options);
  const options = [...table.values()].map((s) => s.options) as unknown as z.ZodObject<{ kind: z.ZodLiteral<string> }>[];
  if (options.length === 0) throw new DataSourceError('no data source is registered');
  const union = z.discriminatedUnion('kind', options as [z.ZodObject<{ kind: z.ZodLiteral<string> }>]);
  return z.preprocess((v) => (typeof v === 'string' ? { kind: v } : v), union) as unknown as z.ZodType<{ kind: string }>;
}

/** The source object for a `source:` value (shorthand string or object), parsed with defaults. */
export function resolveSource(table: SourceTable, value: string | { kind: string }): { source: DataSource<any>; options: { kind: string } } {
  const raw = typeof value === 'string' ? { kind: value } : value;
  const source = table.get(raw.kind);
  if (!source) throw new DataSourceError(`unknown data source "${raw.kind}": expected one of ${[...table.keys()].join(', ')}`);
  const parsed = source.options.safeParse(raw);
  if (!parsed.success) throw new DataSourceError(`source ${raw.kind}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ')}`);
  return { source, options: parsed.data as { kind: string } };
}

/** Loaded examples by source object (not by name: two registries may name different sources alike). */
const cache = new WeakMap<DataSource<any>, Map<string, Promise<LoadedSource>>>();

/** Loads a source, cached within the process (sources are read-only once loaded). */
export function loadSource(table: SourceTable, value: string | { kind: string }, request: SourceRequest = {}): Promise<LoadedSource> {
  const { source, options } = resolveSource(table, value);
  const key = source.cacheKey ? source.cacheKey(options, request) : JSON.stringify(options);
  if (key === undefined) return Promise.resolve(source.load(options, request)).then((s) => checkSource(source.name, s));
  const loaded = cache.get(source) ?? new Map<string, Promise<LoadedSource>>();
  cache.set(source, loaded);
  let hit = loaded.get(key);
  if (!hit) {
    hit = Promise.resolve(source.load(options, request)).then((s) => checkSource(source.name, s));
    hit.catch(() => loaded.delete(key));
    loaded.set(key, hit);
  }
  return hit;
}

/**
 * Most classes a data set may have: a label is a class index, and a stray one (1e9 in a
 * label file) must be an error here, not a 10^9-wide one-hot later.
 */
export const MAX_CLASSES = 100_000;

/** Index of the first NaN or ±Infinity, or -1. */
export function firstNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/**
 * What every source must give the dataset stage (a plugin's too): sizes that agree,
 * finite features, labels that are class indices, and at least two classes.
 */
function checkSource(name: string, s: LoadedSource): LoadedSource {
  const size = s.featureShape.reduce((a, b) => a * b, 1);
  const parts = s.pool ? { pool: s.pool } : { train: s.train, test: s.test };
  if (!s.pool && !(s.train && s.test)) throw new DataSourceError(`source ${name} gave neither a pool nor train and test parts`);
  if (!Number.isInteger(s.classes) || s.classes < 2) throw new DataSourceError(`source ${name}: ${s.classes === 1 ? 'every example has the same label' : `${s.classes} classes`}; attribution needs at least 2 classes`);
  if (s.classes > MAX_CLASSES) throw new DataSourceError(`source ${name}: ${s.classes} classes, more than ${MAX_CLASSES}: labels must be class indices 0..classes-1`);
  for (const [part, p] of Object.entries(parts)) {
    if (!p) continue;
    const bad = p.x instanceof Uint8Array ? -1 : firstNonFinite(p.x);
    if (bad >= 0) throw new DataSourceError(`source ${name}: ${part} example ${Math.floor(bad / size)} has feature ${bad % size} = ${p.x[bad]}; features must be finite numbers`);
    if (p.x.length !== p.n * size) throw new DataSourceError(`source ${name}: ${part} has ${p.x.length} values, expected ${p.n} × ${size}`);
    if (p.y.length !== p.n) throw new DataSourceError(`source ${name}: ${part} has ${p.y.length} labels for ${p.n} examples`);
    if (s.groups && p.group?.length !== p.n) throw new DataSourceError(`source ${name}: ${part} has groups but ${p.group?.length ?? 0} group ids for ${p.n} examples`);
    for (let i = 0; i < p.n; i++) {
      const y = p.y[i];
      if (!(y >= 0 && y < s.classes)) throw new DataSourceError(`source ${name}: ${part} example ${i} has label ${y}, expected 0..${s.classes - 1}`);
    }
  }
  return s;
}

/** Paths in params are relative to the working directory unless absolute. */
export function resolvePath(path: string): string {
  return isAbsolute(path) ? path : resolve(process.cwd(), path);
}

/** Reads a file for a source: its bytes and sha256, with a clear error when it is missing. */
export function readSourceFile(path: string, source: string): { bytes: Buffer; path: string; sha256: string } {
  const full = resolvePath(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataSourceError(`source ${source}: cannot read ${path}${full !== path ? ` (${full})` : ''}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return { bytes, path: full, sha256: sha256(bytes) };
}

const fileDigests = new Map<string, string>();

/**
 * sha256 of a file named in params, for the stage hash; memoized by (path, size, mtime)
 * so planning a large sweep reads each file once. Throws SourceFileError when it is missing.
 */
export function fileFingerprint(key: string, path: string): string {
  const full = resolvePath(path);
  let stat;
  try {
    stat = statSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SourceFileError(`cannot read ${path}${full !== path ? ` (${full})` : ''}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ['source', key]);
  }
  const memo = `${full}\0${stat.size}\0${stat.mtimeMs}`;
  let digest = fileDigests.get(memo);
  if (digest === undefined) fileDigests.set(memo, (digest = sha256(readFileSync(full))));
  return digest;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Optional content pin for file sources: a mismatch is an error, a match makes params cover the content. */
export const sha256Pin = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected a sha256 hex digest (64 lowercase hex digits)')
  .optional()
  .describe('sha256 of the file: checked when given, and part of the stage hash so a changed file is not served from cache');

export function checkPin(source: string, file: { path: string; sha256: string }, pin: string | undefined): void {
  if (pin !== undefined && pin !== file.sha256) {
    throw new DataSourceError(`source ${source}: ${file.path} has sha256 ${file.sha256}, but the config pins ${pin}: the file changed`);
  }
}
