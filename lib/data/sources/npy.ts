/**
 * `npy`: arrays a user exported, e.g. CIFAR-10 from torchvision
 * (`np.save('x.npy', ds.data)`, `np.save('y.npy', np.array(ds.targets))`).
 * `x` is [n, features] (tabular), [n, H, W] or [n, H, W, C] / [n, C, H, W] (images);
 * `y` holds integer labels (int64 as numpy writes them by default, int32, uint8, or
 * integral floats). With `xTest`/`yTest` the two parts are used as given; without, the
 * dataset stage splits one pool at random. uint8 features are scaled by 1/255 unless
 * `scale` says otherwise. Paths and the sha256 pin work as for `csv`.
 */
import { z } from 'zod';
import { readNpy, readNpyHeader, type NdArray } from '../../io/npy.ts';
import { checkPin, DataSourceError, firstNonFinite, MAX_CLASSES, readSourceFile, sha256Pin, type DataSource, type LoadedSource, type SourcePart } from '../source.ts';

const pin = sha256Pin.unwrap();

export const npyOptions = z
  .strictObject({
    kind: z.literal('npy'),
    x: z.string().min(1).describe('features .npy: [n, d], [n, H, W], [n, H, W, C] or [n, C, H, W]'),
    y: z.string().min(1).describe('labels .npy: [n] integers 0..classes-1'),
    xTest: z.string().min(1).optional().describe('test features, used as given (with yTest)'),
    yTest: z.string().min(1).optional().describe('test labels, used as given (with xTest)'),
    layout: z.enum(['auto', 'nhwc', 'nchw']).default('auto').describe('axis order of 4-d image arrays; auto takes a second axis of 1 or 3 as channels-first'),
    scale: z.number().positive().optional().describe('multiplier of the features (default 1/255 for uint8, else 1)'),
    classes: z.number().int().positive().optional().describe('number of classes (default: largest label + 1)'),
    classNames: z.array(z.string()).optional().describe('a name per class, for reports'),
    sha256: z.strictObject({ x: pin.optional(), y: pin.optional(), xTest: pin.optional(), yTest: pin.optional() }).optional().describe('pins of the files\' content, by file: a changed file is then an error'),
  })
  .superRefine((o, ctx) => {
    if ((o.xTest === undefined) !== (o.yTest === undefined)) ctx.addIssue({ code: 'custom', message: 'give both xTest and yTest, or neither' });
  });

type NpyOptions = z.infer<typeof npyOptions>;

/** Labels as int32, accepting int64 (numpy's default), which the core npy reader does not. */
export function readLabels(path: string, bytes: Buffer): Int32Array {
  const headerLength = bytes[6] === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = bytes[6] === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (descr === '<i8' || descr === '<u8') {
    const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (shape.length !== 1) throw new DataSourceError(`source npy: ${path}: labels must be 1-d, got shape [${shape.join(', ')}]`);
    const needs = start + headerLength + shape[0] * 8;
    if (bytes.length !== needs) throw new DataSourceError(`source npy: ${path}: ${bytes.length} bytes, but its header (${descr} [${shape[0]}]) needs ${needs}: truncated or corrupt`);
    const data = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset + start + headerLength, bytes.byteOffset + start + headerLength + shape[0] * 8));
    const out = new Int32Array(shape[0]);
    for (let i = 0; i < out.length; i++) {
      const v = data[i];
      if (v < 0n || v > 0x7fffffffn) throw new DataSourceError(`source npy: ${path}: label ${v} at row ${i} is not a class index`);
      out[i] = Number(v);
    }
    return out;
  }
  const arr = readNpy(path);
  if (arr.shape.length !== 1) throw new DataSourceError(`source npy: ${path}: labels must be 1-d, got shape [${arr.shape.join(', ')}]`);
  const out = new Int32Array(arr.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(arr.data[i]);
    if (!Number.isInteger(v) || v < 0) throw new DataSourceError(`source npy: ${path}: label ${v} at row ${i} is not a class index`);
    out[i] = v;
  }
  return out;
}

interface Features {
  part: Pick<SourcePart, 'x' | 'scale' | 'n'>;
  featureShape: number[];
  image: boolean;
}

function readFeatures(path: string, o: NpyOptions): Features {
  const header = readNpyHeader(path);
  const arr: NdArray = readNpy(path);
  const [n, ...rest] = header.shape;
  if (rest.length === 0) throw new DataSourceError(`source npy: ${path}: features must be at least 2-d, got shape [${header.shape.join(', ')}]`);
  let featureShape = rest;
  let data = arr.data;
  if (rest.length === 3) {
    const nchw = o.layout === 'nchw' || (o.layout === 'auto' && (rest[0] === 1 || rest[0] === 3) && !(rest[2] === 1 || rest[2] === 3));
    if (nchw) {
      const [c, h, w] = rest;
      const out = new (data.constructor as { new (n: number): typeof data })(data.length);
      for (let i = 0; i < n; i++) {
        const base = i * c * h * w;
        for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[base + p * c + ch] = data[base + ch * h * w + p];
      }
      data = out;
      featureShape = [h, w, c];
    }
  } else if (rest.length === 2) featureShape = [...rest, 1];
  else if (rest.length > 3) throw new DataSourceError(`source npy: ${path}: expected [n, d], [n, H, W] or 4-d images, got shape [${header.shape.join(', ')}]`);
  const image = featureShape.length === 3;
  if (data instanceof Uint8Array) return { part: { x: data, scale: o.scale ?? 1 / 255, n }, featureShape, image };
  const x = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  if (o.scale !== undefined && o.scale !== 1) for (let i = 0; i < x.length; i++) x[i] *= o.scale;
  const bad = firstNonFinite(x);
  if (bad >= 0) {
    const size = x.length / n;
    throw new DataSourceError(`source npy: ${path}: row ${Math.floor(bad / size)} has ${x[bad]} at feature ${bad % size}${o.scale !== undefined ? ' (after scale)' : ''}; features must be finite numbers`);
  }
  return { part: { x, n }, featureShape, image };
}

export const npy: DataSource<NpyOptions> = {
  name: 'npy',
  files: (o) => (['x', 'y', 'xTest', 'yTest'] as const).filter((key) => o[key] !== undefined).map((key) => ({ key, path: o[key]! })),
  description: 'exported .npy arrays (x features, y integer labels; optional xTest/yTest used as given)',
  options: npyOptions,
  load(o): LoadedSource {
    const files: { path: string; sha256: string }[] = [];
    const part = (xPath: string, yPath: string, xPin?: string, yPin?: string): Features & { y: Int32Array } => {
      const xf = readSourceFile(xPath, 'npy');
      checkPin('npy', xf, xPin);
      const yf = readSourceFile(yPath, 'npy');
      checkPin('npy', yf, yPin);
      files.push({ path: xf.path, sha256: xf.sha256 }, { path: yf.path, sha256: yf.sha256 });
      const features = readFeatures(xf.path, o);
      const y = readLabels(yf.path, yf.bytes);
      if (y.length !== features.part.n) throw new DataSourceError(`source npy: ${xPath} has ${features.part.n} rows but ${yPath} has ${y.length} labels`);
      return { ...features, y };
    };
    const train = part(o.x, o.y, o.sha256?.x, o.sha256?.y);
    const test = o.xTest !== undefined ? part(o.xTest, o.yTest!, o.sha256?.xTest, o.sha256?.yTest) : undefined;
    if (test && test.featureShape.join() !== train.featureShape.join()) {
      throw new DataSourceError(`source npy: ${o.x} examples are [${train.featureShape.join(', ')}] but ${o.xTest} examples are [${test.featureShape.join(', ')}]`);
    }
    // The first label past `classes` (given, or at most MAX_CLASSES when inferred), by file and row.
    const limit = o.classes ?? MAX_CLASSES;
    for (const [p, file] of [[train, o.y], [test, o.yTest]] as const) {
      const row = p ? p.y.findIndex((v) => v >= limit) : -1;
      if (row >= 0) throw new DataSourceError(`source npy: ${file}: label ${p!.y[row]} at row ${row} is not a class index (expected 0..${limit - 1}${o.classes === undefined ? '' : ', as classes is ' + limit})`);
    }
    let max = 0;
    for (const p of [train, test]) if (p) for (const v of p.y) max = Math.max(max, v);
    const classes = o.classes ?? max + 1;
    if (o.classNames && o.classNames.length !== classes) throw new DataSourceError(`source npy: ${o.classNames.length} classNames for ${classes} classes`);
    const asPart = (p: typeof train): SourcePart => ({ ...p.part, y: p.y });
    return {
      featureShape: train.featureShape,
      classes,
      classNames: o.classNames,
      image: train.image,
      ...(test ? { train: asPart(train), test: asPart(test) } : { pool: asPart(train) }),
      files,
    };
  },
};
