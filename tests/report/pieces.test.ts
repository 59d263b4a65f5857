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
import { chooseTargets, computePoints, reaches } from '../../report/evidence.ts';
import type { ReportGraph, StageNode } from '../../report/graph.ts';
import { escapeHtml, htmlTable } from '../../report/html.ts';
import { ldsComputeSpec, placeLabels, uniqueIds } from '../../report/plots.ts';
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

function node(name: string, output: string, inputs: Record<string, string>, seconds?: number, metrics: Metrics = {}, kind?: string, params: unknown = {}): StageNode {
  const hash = H(name);
  return {
    hash,
    name,
    label: name,
    kind: kind ?? (output === 'models' ? 'train' : output === 'masks' ? 'subsets' : output),
    output,
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, H(v)])),
    params,
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
  node('features', 'features', { models: 'models' }, 3, {}, 'linearize', { projector: { kind: 'kronecker', dim: 512 } }),
  node('trak', 'scores', { features: 'features' }, 2, {}, 'trak', { lambda: { relative: 0.05 }, topK: 10 }),
  node('dm_masks', 'masks', { data: 'data' }, 1),
  node('dm_models', 'models', { data: 'data', masks: 'dm_masks' }, 40, { models: 80 }),
  node('datamodels', 'scores', { models: 'dm_models' }, 4, {}, 'datamodels', { heldOut: 0.1 }),
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
  t.like(points[0], { method: 'TRAK k=512', name: 'TRAK k=512 S=8', stage: 'trak', seconds: 10 + 1 + 5 + 3 + 2, models: 8, lds: 0.5, low: 0.4, high: 0.6, seedsPerSubset: 2 });
  t.like(points[1], { method: 'Datamodels', name: 'Datamodels N=80', seconds: 10 + 1 + 40 + 4, models: 80, lds: 0.3, low: 0.3, high: 0.3, seedsPerSubset: 1 });
});

// The curve from one ensemble: TRAK on the first 2 and all 8 models, datamodels on the
// first 20 of 80, a second TRAK with another λ, and Grad-Dot on the same features.
const curve = [
  ...nodes.filter((n) => n.output !== 'lds'),
  node('trak2', 'scores', { features: 'features' }, 0.5, {}, 'trak', { lambda: { relative: 0.05 }, topK: 10, models: 2 }),
  node('trak_l1', 'scores', { features: 'features' }, 2, {}, 'trak', { lambda: { relative: 1 }, topK: 10 }),
  node('dm20', 'scores', { models: 'dm_models' }, 1, {}, 'datamodels', { heldOut: 0.1, models: 20 }),
  node('graddot', 'scores', { features: 'features' }, 1, {}, 'graddot', { topK: 10 }),
  node('lds_trak', 'lds', { scores: 'trak', models: 'gt_models' }, 1, { lds: 0.5 }),
  node('lds_trak2', 'lds', { scores: 'trak2', models: 'gt_models' }, 1, { lds: 0.35 }),
  node('lds_trak_l1', 'lds', { scores: 'trak_l1', models: 'gt_models' }, 1, { lds: 0.45 }),
  node('lds_dm20', 'lds', { scores: 'dm20', models: 'gt_models' }, 1, { lds: 0.2 }),
  node('lds_dm', 'lds', { scores: 'datamodels', models: 'gt_models' }, 1, { lds: 0.4 }),
  node('lds_graddot', 'lds', { scores: 'graddot', models: 'gt_models' }, 1, { lds: 0.1 }),
];

test('computePoints: methods named by kind and distinguishing params; models: N pays N/M of the per-model stages', (t) => {
  const g = graph(curve);
  const points = computePoints(g, curve.filter((n) => n.output === 'lds'));
  const by = Object.fromEntries(points.map((p) => [p.stage, p]));
  t.like(by.trak, { method: 'TRAK k=512 λ=0.05', name: 'TRAK k=512 λ=0.05 S=8', count: 'S=8', models: 8 });
  t.like(by.trak_l1, { method: 'TRAK k=512 λ=1', name: 'TRAK k=512 λ=1 S=8' });
  // The first 2 of 8 models: 2/8 of masks, models and features; the data set and the solve in full.
  t.like(by.trak2, { method: 'TRAK k=512 λ=0.05', name: 'TRAK k=512 λ=0.05 S=2', models: 2, seconds: 10 + (1 + 5 + 3) * (2 / 8) + 0.5 });
  t.like(by.dm20, { method: 'Datamodels', name: 'Datamodels N=20', models: 20, seconds: 10 + (1 + 40) * (20 / 80) + 1 });
  t.like(by.graddot, { method: 'Grad-Dot', name: 'Grad-Dot', count: '', models: 8 });

  const reach = reaches(points);
  const row = (ref: string, challenger: string) => reach.find((r) => r.reference.stage === ref && r.challenger === challenger)!;
  // Datamodels N=20 (0.2): TRAK λ=0.05 first gets there at S=2 (0.35); N=80 (0.4) only at S=8.
  t.is(row('dm20', 'TRAK k=512 λ=0.05').reached?.stage, 'trak2');
  t.is(row('datamodels', 'TRAK k=512 λ=0.05').reached?.stage, 'trak');
  t.is(row('datamodels', 'TRAK k=512 λ=1').reached?.stage, 'trak_l1');
  const none = reaches(points.map((p) => (p.kind === 'datamodels' ? { ...p, lds: 0.9 } : p)));
  t.true(none.every((r) => r.reached === undefined));
  t.is(none.find((r) => r.challenger === 'TRAK k=512 λ=0.05')!.best.stage, 'trak');
});

test('placeLabels: no two labels overlap, none covers an obstacle or leaves the plot', (t) => {
  const labels = Array.from({ length: 30 }, (_, i) => ({ x: 100 + (i % 5) * 4, y: 100 + Math.floor(i / 5) * 3, text: `S=${i}` }));
  const obstacles = [{ x0: 90, y0: 90, x1: 130, y1: 95 }];
  const spots = placeLabels(labels, obstacles, 300, 200);
  const boxes = spots.flatMap((s, i) => {
    if (!s) return [];
    const w = labels[i]!.text.length * 9 * 0.62;
    return [{ x0: s.x - w / 2, x1: s.x + w / 2, y0: s.y - 5.5, y1: s.y + 5.5 }];
  });
  t.true(boxes.length >= 5, `${boxes.length} placed`);
  t.true(boxes.length < labels.length, 'the crowded ones are left out');
  const hit = (a: { x0: number; y0: number; x1: number; y1: number }, b: typeof a) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
  for (const [i, a] of boxes.entries()) {
    t.true(a.x0 >= 0 && a.y0 >= 0 && a.x1 <= 300 && a.y1 <= 200);
    t.false(hit(a, obstacles[0]!));
    for (const b of boxes.slice(i + 1)) t.false(hit(a, b));
  }
});

test('ldsComputeSpec: one line per method, log x, a dashed mark where TRAK reaches datamodels, no raw markup', (t) => {
  const g = graph(curve);
  const points = computePoints(g, curve.filter((n) => n.output === 'lds'));
  const spec = ldsComputeSpec(points, 'models', reaches(points)) as { layer: Record<string, any>[] };
  const line = spec.layer[0]!;
  t.is(line.mark.type, 'line');
  t.is(line.encoding.color.field, 'method');
  t.is(line.encoding.detail.field, 'method');
  t.is(line.encoding.x.scale.type, 'log');
  const dashed = spec.layer.find((l) => l.mark.type === 'rule' && l.mark.strokeDash)!;
  t.true(dashed.data.values.length >= 3);
  const text = JSON.stringify(spec);
  t.false(/_\{|\\/.test(text), 'no TeX-like markup in titles or labels');
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
