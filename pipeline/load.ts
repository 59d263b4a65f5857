/**
 * Step 1: load. Reads a config's YAML into a Document that keeps source positions, so
 * that every later error can name file:line (see locations.ts). Anchors, aliases and
 * `<<` merge keys work. Also the path helpers the later steps use: find a key through
 * merge keys, and set a value at a path (for sweeps and --set) without disturbing
 * shared anchors.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { fail, ok, type ConfigError, type Result } from './errors.ts';

export type PathSegment = string | number;

export interface Source {
  /** Absolute path. */
  file: string;
  /** As the user should read it in messages (relative to the working directory). */
  display: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function loadSource(path: string): Result<Source> {
  const file = resolve(path);
  const display = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail([{ file: display, message: code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(e)})` }]);
  }
  const deep = tooDeep(text);
  if (deep) return fail([{ file: display, line: text.slice(0, deep.offset).split('\n').length, message: `invalid YAML: brackets nested more than ${MAX_NESTING} levels deep; no config needs that` }]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((e) => ({
        file: display,
        line: e.linePos?.[0].line,
        message: `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  if (!isMap(doc.contents)) {
    return fail([{ file: display, line: 1, message: 'expected a mapping (name:, stages:, ...) at the top of the file' }]);
  }
  const aliases = aliasProblems(doc).map((p) => ({ file: display, line: p.node.range ? lines.linePos(p.node.range[0]).line : undefined, message: `invalid YAML: ${p.message}` }));
  if (aliases.length) return fail(aliases);
  return ok({ file, display, text, doc, lines });
}

/** Deeper bracket nesting than this is refused before parsing (the parser would overflow its stack). */
export const MAX_NESTING = 256;

/** Where flow brackets first nest deeper than MAX_NESTING (quotes and comments skipped), if they do. */
function tooDeep(text: string): { offset: number } | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '{') {
      if (++depth > MAX_NESTING) return { offset: i };
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) i = lineEnd(text, i);
    else if (c === '"' || c === "'") {
      // Skip a quoted scalar ('' escapes ' in single quotes, \ escapes in double quotes).
      for (i++; i < text.length && text[i] !== c; i++) if (c === '"' && text[i] === '\\') i++;
    }
  }
  return undefined;
}

function lineEnd(text: string, i: number): number {
  const end = text.indexOf('\n', i);
  return end < 0 ? text.length : end;
}

/** Aliases that name no anchor, merge keys (`<<`) on something other than mappings, alias bombs. */
function aliasProblems(doc: Document.Parsed): { node: Node; message: string }[] {
  const problems: { node: Node; message: string }[] = [];
  const aliases: Alias[] = [];
  visit(doc, {
    Alias(_, alias: Alias) {
      aliases.push(alias);
      if (!alias.resolve(doc)) problems.push({ node: alias, message: `alias *${alias.source} names no anchor (an &${alias.source} must come before it)` });
    },
    Pair(_, pair: Pair) {
      if (!isMergeKey(pair.key)) return;
      const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
      const sources = isSeq(value) ? value.items.map((v) => (isAlias(v) ? v.resolve(doc) : v)) : [value];
      if (value && sources.some((s) => s !== undefined && !isMap(s))) {
        problems.push({ node: (pair.value ?? pair.key) as Node, message: `the merge key << takes a mapping or a list of mappings, got ${String(pair.value)}` });
      }
    },
  });
  if (problems.length) return problems;
  // A "billion laughs" document: yaml's toJS refuses it (its default limit on alias
  // expansions); name the first alias that alone expands past that limit.
  try {
    doc.toJS();
  } catch (e) {
    if (!/Excessive alias count/.test(String(e))) throw e;
    const bomb = aliases.find((a) => {
      try {
        a.toJS(doc);
        return false;
      } catch {
        return true;
      }
    });
    return [{ node: bomb ?? (doc.contents as Node), message: `${bomb ? `alias *${bomb.source} expands` : 'aliases expand'} to too many nodes (a "billion laughs" pattern); attrib refuses it` }];
  }
  return [];
}

function isMergeKey(key: unknown): boolean {
  const value = isScalar(key) ? key.value : key;
  return value === '<<' || (typeof value === 'symbol' && value.description === '<<');
}

function keyOf(pair: Pair): unknown {
  return isScalar(pair.key) ? pair.key.value : pair.key;
}

/** The pair for `key` in a map, looking through `<<` merge keys as the YAML merge does. */
export function findPair(doc: Document, map: YAMLMap, key: PathSegment): Pair | undefined {
  const own = map.items.find((p) => String(keyOf(p)) === String(key));
  if (own) return own;
  for (const merge of map.items.filter((p) => keyOf(p) === '<<')) {
    const sources = isSeq(merge.value) ? merge.value.items : [merge.value];
    for (const s of sources) {
      const target = isAlias(s) ? s.resolve(doc) : s;
      if (isMap(target)) {
        const found = findPair(doc, target, key);
        if (found) return found;
      }
    }
  }
  return undefined;
}

/** Parses a dotted path; numeric segments index lists. */
export function parsePath(text: string): PathSegment[] {
  return text.split('.').map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/**
 * Sets `value` at `path` in (a clone of) the document. An alias on the way is replaced by
 * a private copy of what it points to, so setting `stages.a.params.x` does not change
 * every stage that shares the anchor; setting a path inside `defaults.<anchor>` changes
 * all of them, as YAML readers expect. `at` gives the new node a source range, so errors
 * about it point at the line the value came from (a sweep list item).
 */
export function setPath(doc: Document, path: readonly PathSegment[], value: unknown, at?: Node['range']): void {
  let parent: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    let child: unknown;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => String(keyOf(p)) === String(seg));
      if (last) {
        const node = doc.createNode(value) as Node;
        if (at) markRange(node, at);
        if (pair) pair.value = node;
        else parent.set(doc.createNode(seg), node);
        return;
      }
      if (!pair) {
        // Through a merge key: copy the merged value into this map first.
        const merged = findPair(doc, parent, seg);
        const created = merged ? privateCopy(doc, merged.value) : doc.createNode({});
        parent.set(doc.createNode(seg), created);
        child = created;
      } else {
        if (isAlias(pair.value) || pair.value === null || (isScalar(pair.value) && pair.value.value === null)) {
          pair.value = isAlias(pair.value) ? privateCopy(doc, pair.value) : doc.createNode({});
        }
        child = pair.value;
      }
    } else if (isSeq(parent) && typeof seg === 'number' && seg < parent.items.length) {
      if (last) {
        const node = doc.createNode(value) as Node;
        if (at) markRange(node, at);
        parent.items[seg] = node;
        return;
      }
      if (isAlias(parent.items[seg])) parent.items[seg] = privateCopy(doc, parent.items[seg]);
      child = parent.items[seg];
    } else {
      throw new PathError(path.slice(0, i));
    }
    parent = child;
  }
}

/** The path's prefix does not lead to a mapping (or list) that could hold the value. */
export class PathError extends Error {
  constructor(readonly at: PathSegment[]) {
    super(`"${at.join('.') || '(top)'}" is not a mapping`);
  }
}

function privateCopy(doc: Document, node: unknown): Node {
  const target = isAlias(node) ? node.resolve(doc) : node;
  const copy = (target as Node).clone() as Node & { anchor?: string };
  delete copy.anchor;
  return copy;
}

function markRange(node: unknown, range: Node['range']): void {
  if (!node || typeof node !== 'object') return;
  (node as Node).range = range;
  if (isMap(node)) for (const pair of node.items) markRange(pair.value, range);
  if (isSeq(node)) for (const item of node.items) markRange(item, range);
}

/** Reads the value at a path of a plain JS object. */
export function getPath(value: unknown, path: readonly PathSegment[]): unknown {
  let cur = value;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    // Own properties only: a user's key must not reach Object.prototype (`constructor`).
    cur = Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[String(seg)] : undefined;
  }
  return cur;
}

export type { ConfigError };
