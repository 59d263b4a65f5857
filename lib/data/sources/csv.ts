/**
 * `csv`: a table a user has, one example per row: a label column and numeric features.
 * Either one file (`path`, split at random by the dataset stage) or separate `train`
 * and `test` files used as given. Paths are relative to the working directory unless
 * absolute. The stage hash covers each file's content (the dataset kind's fingerprint),
 * so an edited file re-runs the split; `sha256:` pins the content (a changed file is then
 * an error).
 */
import { z } from 'zod';
import { parseCsv } from '../csv.ts';
import { checkPin, DataSourceError, readSourceFile, sha256Pin, type DataSource, type LoadedSource, type SourcePart } from '../source.ts';
import { groupIds, labelClasses, parseTable, type ParsedTable } from './table.ts';

const column = z.union([z.string().min(1), z.number().int().nonnegative()]);

export const csvOptions = z
  .strictObject({
    kind: z.literal('csv'),
    path: z.string().min(1).optional().describe('one file, split at random into train and test'),
    train: z.string().min(1).optional().describe('train file, used as given (with `test`)'),
    test: z.string().min(1).optional().describe('test file, used as given (with `train`)'),
    label: column.optional().describe('label column: name or 0-based index (default: "label" if present, else the last column)'),
    ignore: z.array(column).optional().describe('columns that are neither label nor feature, e.g. an id'),
    groupColumn: column.optional().describe('column naming each example\'s group (not a feature; empty = no group): written as group_train/group_test.npy for knobs'),
    header: z.boolean().default(true).describe('the first row names the columns'),
    delimiter: z.string().length(1).default(',').describe('column separator'),
    sha256: z.union([sha256Pin.unwrap(), z.strictObject({ train: sha256Pin.unwrap(), test: sha256Pin.unwrap() })]).optional()
      .describe('pin of the file content: a digest for `path`, or {train, test}'),
  })
  .superRefine((o, ctx) => {
    const one = o.path !== undefined;
    const two = o.train !== undefined || o.test !== undefined;
    if (one && two) ctx.addIssue({ code: 'custom', message: 'give either path or train and test, not both' });
    else if (!one && !(o.train !== undefined && o.test !== undefined)) ctx.addIssue({ code: 'custom', message: 'give path (one file to split) or both train and test files' });
  });

type CsvOptions = z.infer<typeof csvOptions>;

export const csv: DataSource<CsvOptions> = {
  name: 'csv',
  files: (o) => (['path', 'train', 'test'] as const).filter((key) => o[key] !== undefined).map((key) => ({ key, path: o[key]! })),
  description: 'a CSV table: a label column and numeric features; one file split at random, or train and test files used as given',
  options: csvOptions,
  load(o): LoadedSource {
    const read = (path: string, pin: string | undefined) => {
      const file = readSourceFile(path, 'csv');
      checkPin('csv', file, pin);
      const table = parseTable(parseCsv(file.bytes.toString('utf8'), o.delimiter), { header: o.header, label: o.label, ignore: o.ignore, group: o.groupColumn }, path);
      return { file, table };
    };
    const pins = typeof o.sha256 === 'object' ? o.sha256 : { path: o.sha256 };
    let groups: ReturnType<typeof groupIds> | undefined;
    const part = (t: ParsedTable, map: (s: string) => number): SourcePart => ({
      x: t.x,
      y: Int32Array.from(t.labels, map),
      group: groups && t.groups ? Int32Array.from(t.groups, groups.map) : undefined,
      n: t.n,
    });
    const groupInfo = (tables: ParsedTable[]) => {
      if (o.groupColumn === undefined) return undefined;
      groups = groupIds(tables.flatMap((t) => t.groups ?? []));
      return { name: tables[0].groupName!, names: groups.names };
    };
    if (o.path !== undefined) {
      if (typeof o.sha256 === 'object') throw new DataSourceError('source csv: sha256 {train, test} given for a single path');
      const { file, table } = read(o.path, o.sha256);
      const classes = labelClasses(table.labels);
      const groupsOf = groupInfo([table]);
      return { featureShape: [table.featureNames.length], classes: classes.classes, classNames: classes.classNames, featureNames: table.featureNames, image: false, pool: part(table, classes.map), files: [{ path: file.path, sha256: file.sha256 }], groups: groupsOf };
    }
    if (typeof o.sha256 === 'string') throw new DataSourceError('source csv: give sha256 as {train, test} for two files');
    const train = read(o.train!, (pins as { train?: string }).train);
    const test = read(o.test!, (pins as { test?: string }).test);
    if (train.table.featureNames.join('\u0000') !== test.table.featureNames.join('\u0000')) {
      throw new DataSourceError(`source csv: ${o.train} has features [${train.table.featureNames.join(', ')}] but ${o.test} has [${test.table.featureNames.join(', ')}]`);
    }
    const classes = labelClasses([...train.table.labels, ...test.table.labels]);
    const groupsOf = groupInfo([train.table, test.table]);
    return {
      featureShape: [train.table.featureNames.length],
      classes: classes.classes,
      classNames: classes.classNames,
      featureNames: train.table.featureNames,
      image: false,
      train: part(train.table, classes.map),
      test: part(test.table, classes.map),
      files: [train.file, test.file].map((f) => ({ path: f.path, sha256: f.sha256 })),
      groups: groupsOf,
    };
  },
};
