/**
 * `iris`: Fisher's 150 flowers (4 features, 3 classes), shipped in this folder as
 * iris.csv (the copy scikit-learn distributes). One pool.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseCsv } from '../csv.ts';
import type { DataSource, LoadedSource } from '../source.ts';
import { labelClasses, parseTable } from './table.ts';

export const irisOptions = z.strictObject({ kind: z.literal('iris') });

export const iris: DataSource<z.infer<typeof irisOptions>> = {
  name: 'iris',
  description: "Fisher's iris: 150 examples, 4 features, 3 classes (shipped with attrib)",
  options: irisOptions,
  load(): LoadedSource {
    const file = fileURLToPath(new URL('./iris.csv', import.meta.url));
    const table = parseTable(parseCsv(readFileSync(file, 'utf8')), { header: true, label: 'species' }, file);
    const classes = labelClasses(table.labels);
    return {
      featureShape: [table.featureNames.length],
      classes: classes.classes,
      classNames: classes.classNames,
      featureNames: table.featureNames,
      image: false,
      pool: { x: table.x, y: Int32Array.from(table.labels, classes.map), n: table.n },
    };
  },
};
