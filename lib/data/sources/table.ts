/**
 * Turns parsed CSV rows into a source part: one label column, every other column a
 * numeric feature. Shared by the `csv` and `iris` sources.
 */
import { DataSourceError, MAX_CLASSES } from '../source.ts';

export interface TableSpec {
  /** Column holding the class (header name or 0-based index; default: "label" if present, else the last column). */
  label?: string | number;
  /** Columns to drop (names or indices), e.g. an id column. */
  ignore?: (string | number)[];
  /** Column naming each example's group (not a feature); empty cells are no group. */
  group?: string | number;
  header: boolean;
}

export interface ParsedTable {
  featureNames: string[];
  x: Float32Array;
  /** Raw label strings, mapped to classes by `labelClasses`. */
  labels: string[];
  /** Raw group strings ('' = none) and the group column's name, when `group` is given. */
  groups?: string[];
  groupName?: string;
  n: number;
}

function columnIndex(spec: string | number, names: string[], what: string, file: string): number {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec >= names.length) throw new DataSourceError(`${file}: ${what} column ${spec} is out of range (0..${names.length - 1})`);
    return spec;
  }
  const i = names.indexOf(spec);
  if (i < 0) throw new DataSourceError(`${file}: no column named "${spec}" for ${what} (columns: ${names.join(', ')})`);
  return i;
}

export function parseTable(rows: string[][], spec: TableSpec, file: string): ParsedTable {
  if (rows.length === 0) throw new DataSourceError(`${file}: empty file`);
  const width = rows[0].length;
  const names = spec.header ? rows[0].map((s) => s.trim()) : rows[0].map((_, i) => `c${i}`);
  const body = spec.header ? rows.slice(1) : rows;
  if (body.length === 0) throw new DataSourceError(`${file}: no data rows`);
  const labelCol = spec.label !== undefined ? columnIndex(spec.label, names, 'label', file) : names.includes('label') ? names.indexOf('label') : width - 1;
  const drop = new Set((spec.ignore ?? []).map((c) => columnIndex(c, names, 'ignored', file)));
  drop.add(labelCol);
  const groupCol = spec.group !== undefined ? columnIndex(spec.group, names, 'group', file) : undefined;
  if (groupCol !== undefined) {
    if (groupCol === labelCol) throw new DataSourceError(`${file}: the group column cannot be the label column`);
    drop.add(groupCol);
  }
  const groups: string[] | undefined = groupCol !== undefined ? [] : undefined;
  const featureCols = names.map((_, i) => i).filter((i) => !drop.has(i));
  if (featureCols.length === 0) throw new DataSourceError(`${file}: no feature columns left besides the label`);
  const x = new Float32Array(body.length * featureCols.length);
  const labels: string[] = [];
  const lineOf = (r: number) => r + (spec.header ? 2 : 1);
  body.forEach((row, r) => {
    const line = r + (spec.header ? 2 : 1);
    if (row.length !== width) throw new DataSourceError(`${file}:${line}: ${row.length} fields, expected ${width}`);
    featureCols.forEach((c, j) => {
      const text = row[c].trim();
      const v = Number(text);
      if (text === '' || !Number.isFinite(v)) throw new DataSourceError(`${file}:${line}: column "${names[c]}" is ${JSON.stringify(row[c])}, expected a number (features must be numeric, with no missing values)`);
      x[r * featureCols.length + j] = v;
    });
    labels.push(row[labelCol].trim());
    if (groups) groups.push(row[groupCol!].trim());
  });
  checkLabels(labels, names[labelCol], file, lineOf);
  return { featureNames: featureCols.map((c) => names[c]), x, labels, groups, groupName: groupCol !== undefined ? names[groupCol] : undefined, n: body.length };
}

/**
 * Labels that are all numbers must be class indices (a `-1` or `1.5` among 0s and 1s is
 * a mistake, not a class named "-1"); names (cat, dog) are mapped by labelClasses. A
 * missing label is never a class. Errors name the file and line of the first bad one.
 */
function checkLabels(labels: string[], column: string, file: string, lineOf: (row: number) => number): void {
  const empty = labels.indexOf('');
  if (empty >= 0) throw new DataSourceError(`${file}:${lineOf(empty)}: the label column "${column}" is empty`);
  if (!labels.every((s) => Number.isFinite(Number(s)))) return; // names
  const bad = labels.findIndex((s) => !/^\d+$/.test(s) || Number(s) >= MAX_CLASSES);
  if (bad >= 0) {
    throw new DataSourceError(`${file}:${lineOf(bad)}: label ${JSON.stringify(labels[bad])} in column "${column}" is not a class index (numeric labels must be integers 0..${MAX_CLASSES - 1}; names are mapped to classes)`);
  }
}

/**
 * Class ids for label strings: non-negative integers are used as they are (classes =
 * max + 1); anything else is mapped to the sorted distinct names.
 */
export function labelClasses(all: string[]): { classes: number; classNames?: string[]; map: (label: string) => number } {
  const integral = all.every((s) => /^\d+$/.test(s));
  if (integral) {
    const max = all.reduce((m, s) => Math.max(m, Number(s)), 0);
    return { classes: max + 1, map: (s) => Number(s) };
  }
  const names = [...new Set(all)].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  return { classes: names.length, classNames: names, map: (s) => index.get(s)! };
}

/** Group ids for group strings: sorted distinct non-empty names; '' is no group (−1). */
export function groupIds(all: string[]): { names: string[]; map: (group: string) => number } {
  const names = [...new Set(all.filter((g) => g !== ''))].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  return { names, map: (g) => (g === '' ? -1 : index.get(g)!) };
}
