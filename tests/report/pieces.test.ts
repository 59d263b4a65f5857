// The report's pieces without a run: the PNG encoder, per-image rescaling, which targets
// are shown, the DAG layout, the compute axis of LDS-against-compute on a hand-made
// graph, SVG id prefixing, and compare on hand-written run.json files.
import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import type { Metrics, StageHash } from '../../pipeline/registry.ts';
import type { Manifest } from '../../pipeline/store.ts';
import { compareRuns, findRun, RunNotFound } from '../../report/compare.ts';
import { dagSvg, layoutDag } from '../../report/dag.ts';
import { chooseTargets, computePoints } from '../../report/evidence.ts';
import type { ReportGraph, StageNode } from '../../report/graph.ts';
import { escapeHtml, htmlTable } from '../../report/html.ts';
import { uniqueIds } from '../../report/plots.ts';
import { encodePng, imagePixels } from '../../report/png.ts';

function chunks(png: Buffer): { type: string; data: Buffer; crc: number }[] {
  const out = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    out.push({ type: png.toString('ascii', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + len), crc: png.readUInt32BE(at + 8 + len) });
    at += 12 + len;
  }
  return out;
}

test('encodePng: signature, IHDR, CRCs and the pixels back through inflate', (t) => {
  const pixels = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => (i * 37) % 256);
  const png = encodePng(pixels, 2, 3, 3);
  t.is(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
  const cs = chunks(png);
  t.deepEqual(cs.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  t.deepEqual([cs[0]!.data.readUInt32BE(0), cs[0]!.data.readUInt32BE(4), cs[0]!.data[8], cs[0]!.data[9]], [2, 3, 8, 2]);
  const crc32 = (zlib as unknown as { crc32?: (b: Buffer) => number }).crc32;
  if (crc32) for (const c of cs) t.is(c.crc, crc32(Buffer.concat([Buffer.from(c.type, 'ascii'), c.data])), c.type);
  const raw = zlib.inflateSync(cs[1]!.data);
  t.is(raw.length, 3 * (1 + 2 * 3));
  for (let y = 0; y < 3; y++) {
    t.is(raw[y * 7], 0, 'filter type 0');
    t.deepEqual([...raw.subarray(y * 7 + 1, y * 7 + 7)], [...pixels.subarray(y * 6, y * 6 + 6)]);
  }
  t.throws(() => encodePng(pixels, 2, 2, 3), { message: /is not 2×2×3/ });
});

test('imagePixels: rescaled per image to 0..255; constant images grey; RGB kept', (t) => {
  const grey = imagePixels(Float32Array.from([-1, 0, 1, 3]), [2, 2, 1]);
  t.deepEqual([grey.width, grey.height, grey.channels], [2, 2, 1]);
  t.deepEqual([...grey.pixels], [0, 64, 128, 255]);
  t.deepEqual([...imagePixels(Float32Array.from([5, 5]), [1, 2, 1]).pixels], [128, 128]);
  const rgb = imagePixels(Float32Array.from([0, 1, 2, 3, 4, 6]), [1, 2, 3]);
  t.is(rgb.channels, 3);
  t.deepEqual([...rgb.pixels], [0, 43, 85, 128, 170, 255]);
});

test('chooseTargets: best, median and worst LDS_j; first rows without an lds', (t) => {
  const lds = [0.1, 0.9, 0.5, -0.2, 0.3];
  t.deepEqual(chooseTargets(lds, 5, 3), [1, 4, 3]);
  t.deepEqual(chooseTargets(lds, 5, 1), [4]);
  t.deepEqual(chooseTargets(lds, 5, 9), [1, 2, 4, 0, 3]);
  t.deepEqual(chooseTargets(undefined, 5, 2), [0, 1]);
  t.deepEqual(chooseTargets(lds, 5, 0), []);
});

const H = (name: string) => name.padEnd(64, '0') as StageHash;

function node(name: string, output: string, inputs: Record<string, string>, seconds?: number, metrics: Metrics = {}): StageNode {
  const hash = H(name);
  return {
    hash,
    name,
    label: name,
    kind: output === 'models' ? 'train' : output === 'masks' ? 'subsets' : output,
    output,
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, H(v)])),
    params: {},
    dir: `/nowhere/${name}`,
    state: seconds === undefined ? 'missing' : 'done',
    stateText: seconds === undefined ? 'not run' : 'cached',
    ...(seconds === undefined ? {} : { manifest: { hash, seconds, metrics, units: 0 } as unknown as Manifest }),
  };
}

function graph(nodes: StageNode[]): ReportGraph {
  return {
    source: 'test',
    nodes: new Map(nodes.map((n) => [n.hash, n])),
    experiments: [{ name: 'x', baseName: 'x', point: '', stages: nodes.map((n) => ({ name: n.name, hash: n.hash })) }],
    runsDir: '/nowhere',
  };
}

// a tiny attribution DAG: TRAK from 8 models, datamodels from 80, both scored against 50.
const nodes = [
  node('data', 'dataset', {}, 10),
  node('masks', 'masks', { data: 'data' }, 1),
  node('models', 'models', { data: 'data', masks: 'masks' }, 5, { models: 8 }),
  node('features', 'features', { models: 'models' }, 3),
  node('trak', 'scores', { features: 'features' }, 2),
  node('dm_masks', 'masks', { data: 'data' }, 1),
  node('dm_models', 'models', { data: 'data', masks: 'dm_masks' }, 40, { models: 80 }),
  node('datamodels', 'scores', { models: 'dm_models' }, 4),
  node('gt_masks', 'masks', { data: 'data' }, 100),
  node('gt_models', 'models', { data: 'data', masks: 'gt_masks' }, 500, { models: 50 }),
  node('lds_trak', 'lds', { scores: 'trak', models: 'gt_models' }, 1, { lds: 0.5, ldsLow: 0.4, ldsHigh: 0.6, seedsPerSubset: 2 }),
  node('lds_dm', 'lds', { scores: 'datamodels', models: 'gt_models' }, 1, { lds: 0.3 }),
  node('lds_late', 'lds', { scores: 'trak', models: 'gt_models' }),
];

test('computePoints: seconds and models upstream of the scores, ground truth excluded', (t) => {
  const g = graph(nodes);
  const lds = nodes.filter((n) => n.output === 'lds' && n.state === 'done');
  const points = computePoints(g, lds);
  t.is(points.length, 2);
  t.like(points[0], { method: 'trak', seconds: 10 + 1 + 5 + 3 + 2, models: 8, lds: 0.5, low: 0.4, high: 0.6, seedsPerSubset: 2 });
  t.like(points[1], { method: 'datamodels', seconds: 10 + 1 + 40 + 4, models: 80, lds: 0.3, low: 0.3, high: 0.3, seedsPerSubset: 1 });
});

test('layoutDag: a stage sits one column right of its deepest input; the SVG escapes labels', (t) => {
  const layout = layoutDag(nodes);
  const col = (n: string) => layout.position.get(H(n))!.col;
  t.deepEqual(['data', 'masks', 'models', 'features', 'trak', 'lds_trak'].map(col), [0, 1, 2, 3, 4, 5]);
  t.is(col('datamodels'), 3);
  t.is(col('lds_dm'), 4);
  t.true(layout.width > 0 && layout.height > 0);
  const svg = dagSvg([node('a<b>', 'dataset', {}, 1), node('c&d', 'masks', { data: 'a<b>' })], 'd');
  t.regex(svg, /a&lt;b&gt;/);
  t.regex(svg, /c&amp;d/);
  t.is((svg.match(/class="edge"/g) ?? []).length, 1);
  t.regex(svg, /data-state="missing"/);
  t.regex(svg, /marker-end="url\(#d-arrow\)"/);
});

test('uniqueIds prefixes ids and their references; htmlTable escapes nothing itself', (t) => {
  const svg = '<?xml version="1.0"?><svg><defs><clipPath id="clip1"/></defs><g clip-path="url(#clip1)"/><use href="#clip1"/></svg>';
  t.is(uniqueIds(svg, 'p'), '<svg><defs><clipPath id="p-clip1"/></defs><g clip-path="url(#p-clip1)"/><use href="#p-clip1"/></svg>');
  t.is(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const table = htmlTable([['a', 'b'], ['1', '<i>2</i>']], { numeric: [0], rowClass: () => 'r' });
  t.regex(table, /<th class="num">a<\/th>/);
  t.regex(table, /<tr class="r"><td class="num">1<\/td><td><i>2<\/i><\/td><\/tr>/);
});

test('compare: run folders without manifests fall back to run.json metrics', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'attrib-compare-'));
  const write = (name: string, run: unknown) => {
    mkdirSync(join(runs, name));
    writeFileSync(join(runs, name, 'run.json'), JSON.stringify(run));
  };
  const entry = (hash: string, metrics: Metrics, status = 'ran') => ({ hash: H(hash), dir: `../store/${H(hash)}`, status, seconds: 1, metrics });
  write('x@k=1', { data: entry('d', { n: 10 }), lds: entry('l1', { lds: 0.5, method: 'trak' }), old: entry('o', {}) });
  write('x@k=2', { data: entry('d', { n: 10 }), lds: entry('l2', { lds: 0.6, method: 'trak', extra: 1 }, 'failed'), new: entry('n', {}) });
  const text = compareRuns(findRun('x@k=1', runs), findRun(join(runs, 'x@k=2'), runs));
  t.regex(text, /^data\s+\(same entry\)$/m);
  t.regex(text, /^lds\s+status\s+ran\s+failed\s+changed$/m);
  t.regex(text, /^\s+lds\s+0\.5\s+0\.6\s+\+0\.1 \(\+20%\)$/m);
  t.regex(text, /^\s+method\s+trak\s+trak\s*$/m);
  t.regex(text, /^\s+extra\s+1\s+added$/m);
  t.regex(text, /^old\s+\(only in A\)$/m);
  t.regex(text, /^new\s+\(only in B\)$/m);
  t.throws(() => findRun('x@k=3', runs), { instanceOf: RunNotFound, message: /runs in .*: x@k=1, x@k=2/ });
});
