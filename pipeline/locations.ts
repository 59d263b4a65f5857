/**
 * Source locations: where in the config file a problem is, as file:line. Every config
 * error is located here. The YAML is parsed with a LineCounter (load.ts), so each node
 * keeps the offsets it came from; a value set by a sweep carries the range of its item
 * in the sweep list (setPath), and a value set by `--set` is located at `--set` instead
 * of a line. A path that goes through an alias is reported at the anchor, with the
 * alias's line added.
 */
import { isAlias, isMap, isSeq, type Document, type Node } from 'yaml';
import { dotted, type ConfigError } from './errors.ts';
import { findPair, type PathSegment, type Source } from './load.ts';

/** Where errors point: the file, the document being checked, and where --set values came from. */
export interface Where {
  source: Source;
  doc: Document;
  /** Dotted path -> label, for values that came from the command line. */
  origins: Map<string, string>;
}

/** The config file as written: no sweep point, no --set. */
export function whereIn(source: Source): Where {
  return { source, doc: source.doc, origins: new Map() };
}

/** A problem at `path` (or at its key, with `key`), located. */
export function errorAt(where: Where, path: readonly PathSegment[], message: string, opts: { key?: boolean } = {}): ConfigError {
  const dottedPath = dotted(path);
  for (const [prefix, label] of where.origins) {
    if (dottedPath === prefix || dottedPath.startsWith(`${prefix}.`)) return { file: label, path: dottedPath, message };
  }
  const loc = locate(where.source, where.doc, path, opts);
  const via = loc.viaAlias ? ` (through the alias on line ${loc.viaAlias})` : '';
  return { file: where.source.display, line: loc.line, path: dottedPath, message: message + via };
}

/** Errors in file order (unlocated ones last), stable otherwise. */
export function sortByLine(errors: ConfigError[]): ConfigError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.line ?? Infinity) - (b.e.line ?? Infinity) || a.i - b.i)
    .map(({ e }) => e);
}

export interface Location {
  line?: number;
  /** Line of the alias the path went through, when it did (the error is in the anchor). */
  viaAlias?: number;
}

/**
 * The line of the node at `path` (or of its key when `key` is set). When the path does
 * not exist in the file (a default, a missing key), the deepest existing ancestor's line.
 */
export function locate(source: Source, doc: Document, path: readonly PathSegment[], opts: { key?: boolean } = {}): Location {
  let node: unknown = doc.contents;
  let line = lineOf(source, node);
  let viaAlias: number | undefined;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) {
      viaAlias ??= lineOf(source, node);
      node = node.resolve(doc);
    }
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = findPair(doc, node, path[i]!);
      if (!pair) break;
      if (last && opts.key) return { line: lineOf(source, pair.key) ?? line, viaAlias };
      node = pair.value;
      line = lineOf(source, pair.value) ?? lineOf(source, pair.key) ?? line;
    } else if (isSeq(node)) {
      const item = node.items[Number(path[i])];
      if (item === undefined) break;
      node = item;
      line = lineOf(source, item) ?? line;
    } else {
      break;
    }
  }
  return { line, viaAlias };
}

/** The 1-based line a node starts on, when it came from (or was given a range in) the file. */
function lineOf(source: Source, node: unknown): number | undefined {
  const range = (node as Node | undefined)?.range;
  return range ? source.lines.linePos(range[0]).line : undefined;
}
