/**
 * Step 2: expand. A config with `sweep:` stands for several experiments, one per sweep
 * point: `grid` takes the cartesian product of its lists, `zip` walks its lists in lock
 * step, and both together multiply. `--set PATH=VALUE` overrides apply to every point,
 * typed by the schema at their path. Values are set in the YAML document itself (see
 * setPath), so errors about a swept value point at the line of that value in the sweep
 * list. Each point's document is then validated (step 3): a swept value can change
 * anything validation checks (a param, an input, a kind), so validation needs the point.
 * `--sweep PATH=A,B,C` adds a dimension from the command line (Hydra's multirun habit):
 * a grid dimension, or with `--zip` a zip one; it replaces the config's own dimension of
 * the same path.
 */
import { isMap, isScalar, isSeq, parse as parseYaml, type Document, type Node } from 'yaml';
import { fail, ok, show, type ConfigError, type Result } from './errors.ts';
import { parsePath, PathError, setPath, type PathSegment, type Source } from './load.ts';
import type { Registry } from './registry.ts';
import { errorAt, whereIn, type Where } from './locations.ts';
import { DEFAULT_MAX_POINTS, overrideValue, type SweepPoint } from './validate.ts';

export interface Override {
  /** As typed on the command line. */
  text: string;
  path: PathSegment[];
  /** The value parsed as YAML (512 -> number). */
  value: unknown;
  /** The raw text, used instead when the schema wants a string there (see overrideValue). */
  raw: string;
}

/** A `--sweep PATH=A,B,C` dimension. */
export interface CliSweep {
  text: string;
  path: PathSegment[];
  values: unknown[];
}

export interface Variant {
  point: SweepPoint[];
  doc: Document;
  raw: unknown;
  where: Where;
}

interface Dimension {
  path: string;
  segments: PathSegment[];
  values: unknown[];
  /** Source range of each value, so errors point at it. */
  ranges: Node['range'][];
  /** The `--sweep` text, for a dimension from the command line. */
  cli?: string;
}

/** Roots a sweep or --set may change. `name`, `plugins` and `sweep` itself are fixed. */
const SETTABLE = new Set(['seed', 'backend', 'defaults', 'executor', 'stages']);

export function parseOverrides(sets: readonly string[]): Result<Override[]> {
  const errors: ConfigError[] = [];
  const overrides: Override[] = [];
  for (const text of sets) {
    const eq = text.indexOf('=');
    if (eq <= 0) {
      errors.push({ file: '--set', message: `expected PATH=VALUE, got ${JSON.stringify(text)}` });
      continue;
    }
    const raw = text.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = raw === '' ? '' : parseYaml(raw);
    } catch {
      // Not YAML: keep the text.
    }
    overrides.push({ text, path: parsePath(text.slice(0, eq)), value, raw });
  }
  return errors.length ? fail(errors) : ok(overrides);
}

/** `PATH=A,B,C` -> its values, each read as YAML; commas inside [..], {..} or quotes do not split. */
export function parseSweeps(texts: readonly string[]): Result<CliSweep[]> {
  const errors: ConfigError[] = [];
  const sweeps: CliSweep[] = [];
  for (const text of texts) {
    const eq = text.indexOf('=');
    const parts = eq > 0 ? splitTopLevel(text.slice(eq + 1)) : [];
    if (eq <= 0 || parts.some((p) => p.trim() === '')) {
      errors.push({ file: '--sweep', message: `expected PATH=VALUE,VALUE,..., got ${JSON.stringify(text)}` });
      continue;
    }
    const values = parts.map((p) => {
      try {
        return parseYaml(p);
      } catch {
        return p; // not YAML: the text
      }
    });
    sweeps.push({ text, path: parsePath(text.slice(0, eq)), values });
  }
  return errors.length ? fail(errors) : ok(sweeps);
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** One variant per sweep point (one when there is no sweep), --set applied; `registry` types the --set values. */
export function expand(source: Source, overrides: readonly Override[], registry: Registry, cli: { sweeps?: readonly CliSweep[]; zip?: boolean } = {}): Result<Variant[]> {
  const base = whereIn(source);
  const top = source.doc.toJS() as Record<string, unknown>;
  const errors: ConfigError[] = [];

  const dims = { grid: [] as Dimension[], zip: [] as Dimension[] };
  const sweepNode = isMap(source.doc.contents) ? source.doc.contents.get('sweep', true) : undefined;
  for (const mode of ['grid', 'zip'] as const) {
    const section = isMap(sweepNode) ? sweepNode.get(mode, true) : undefined;
    if (!isMap(section)) continue; // a malformed sweep: is reported by validation
    for (const pair of section.items) {
      const path = String(isScalar(pair.key) ? pair.key.value : pair.key);
      const list = pair.value;
      if (!isSeq(list) || list.items.length === 0) continue; // reported by validation
      const segments = parsePath(path);
      const problem = checkTarget(segments, top);
      if (problem) {
        errors.push(errorAt(base, ['sweep', mode, path], problem, { key: true }));
        continue;
      }
      dims[mode].push({ path, segments, values: list.toJS(source.doc) as unknown[], ranges: list.items.map((n) => (n as Node).range) });
    }
  }
  for (const sweep of cli.sweeps ?? []) {
    const path = sweep.path.join('.');
    const problem = checkTarget(sweep.path, top);
    if (problem) {
      errors.push({ file: `--sweep ${sweep.text}`, message: problem });
      continue;
    }
    for (const mode of ['grid', 'zip'] as const) dims[mode] = dims[mode].filter((d) => d.segments.join('.') !== path);
    dims[cli.zip ? 'zip' : 'grid'].push({ path, segments: sweep.path, values: sweep.values, ranges: sweep.values.map(() => undefined), cli: sweep.text });
  }
  const zipLength = dims.zip[0]?.values.length;
  for (const d of dims.zip) {
    if (d.values.length !== zipLength) {
      const message = `zip lists must have the same length: ${dims.zip[0]!.path} has ${zipLength}, this one has ${d.values.length}`;
      errors.push(d.cli ? { file: `--sweep ${d.cli}`, message } : errorAt(base, ['sweep', 'zip', d.path], message, { key: true }));
    }
  }
  for (const o of overrides) {
    const problem = checkTarget(o.path, top);
    if (problem) errors.push({ file: `--set ${o.text}`, message: problem });
  }
  const limit = maxPoints(sweepNode);
  if (typeof limit === 'string') errors.push(errorAt(base, ['sweep', 'maxPoints'], limit));
  else {
    // Counted before expanding: a 200 x 200 grid must be refused, not built (each point is a document).
    const sizes = [...dims.grid.map((d) => d.values.length), ...(dims.zip.length ? [zipLength!] : [])];
    const count = sizes.reduce((a, b) => a * b, 1);
    if (count > limit) {
      const product = sizes.length > 1 ? ` (${sizes.join(' x ')})` : '';
      errors.push(errorAt(base, ['sweep'], `the sweep has ${count} points${product}, more than sweep.maxPoints (${limit}); set sweep.maxPoints: ${count} to expand them all`, { key: true }));
    }
  }
  if (errors.length) return fail(errors);

  const all = [...dims.grid, ...dims.zip];
  const keys = shortKeys(all.map((d) => d.segments));
  // Each point: one index per grid dimension (last varies fastest), times one zip row.
  let points: number[][] = [[]];
  for (const d of dims.grid) points = points.flatMap((p) => d.values.map((_, i) => [...p, i]));
  if (dims.zip.length) points = points.flatMap((p) => Array.from({ length: zipLength! }, (_, row) => [...p, ...dims.zip.map(() => row)]));

  const variants: Variant[] = [];
  for (const indices of points) {
    const doc = source.doc.clone();
    const point: SweepPoint[] = [];
    const origins = new Map<string, string>();
    try {
      all.forEach((d, k) => {
        const i = indices[k]!;
        setPath(doc, d.segments, d.values[i], d.ranges[i]);
        point.push({ path: d.path, key: keys[k]!, value: d.values[i] });
      });
      // Typed against this point's document: a swept `kind` changes the params schema.
      const plain = overrides.length ? doc.toJS() : undefined;
      for (const o of overrides) {
        setPath(doc, o.path, overrideValue(registry, plain, o));
        origins.set(o.path.join('.'), '--set');
      }
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      return fail([{ file: source.display, message: `cannot set a value under ${e.message}` }]);
    }
    variants.push({ point, doc, raw: doc.toJS(), where: { source, doc, origins } });
  }
  return ok(variants);
}

/** The sweep's `maxPoints:` (or the default), or why it is not a positive integer. */
function maxPoints(sweepNode: unknown): number | string {
  const node = isMap(sweepNode) ? sweepNode.get('maxPoints', true) : undefined;
  if (node === undefined) return DEFAULT_MAX_POINTS;
  const value = isScalar(node) ? node.value : undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : `expected a positive integer, got ${show(isScalar(node) ? node.value : (node as Node).toJSON())}`;
}

/** Why a sweep/--set path cannot be set, or undefined when it can. */
function checkTarget(path: PathSegment[], top: Record<string, unknown>): string | undefined {
  const root = String(path[0]);
  if (!SETTABLE.has(root)) return `cannot sweep or set "${root}" (settable: ${[...SETTABLE].join(', ')})`;
  if (root === 'stages') {
    const stages = (top.stages ?? {}) as Record<string, unknown>;
    if (path.length < 3) return 'expected a path into a stage, such as stages.NAME.params.KEY';
    if (!Object.hasOwn(stages, String(path[1]))) return `no stage named "${String(path[1])}"`;
  }
  return undefined;
}

/** The last path segment, with more segments where two paths would share a key. */
export function shortKeys(paths: PathSegment[][]): string[] {
  return paths.map((p) => {
    for (let n = 1; n <= p.length; n++) {
      const key = p.slice(-n).join('.');
      if (paths.every((q) => q === p || q.slice(-n).join('.') !== key)) return key;
    }
    return p.join('.');
  });
}
