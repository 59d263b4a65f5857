/**
 * Plots: vega-lite specs compiled and rendered to SVG in Node (vega's headless view, no
 * browser, no canvas), and to PNG through resvg for slides and papers. The page inlines
 * the SVG; nothing is fetched when it is opened.
 */
import type { ComputePoint, Reach, ScoresDetail } from './evidence.ts';

export type VegaLiteSpec = Record<string, unknown>;

export interface Plot {
  /** File stem and DOM id: [a-z0-9-]. */
  id: string;
  title: string;
  /** What the reader is looking at, one or two sentences under the plot. */
  caption: string;
  svg: string;
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eee' },
  legend: { labelFontSize: 10, titleFontSize: 11 },
  title: { fontSize: 12, anchor: 'start' },
};

/** Renders a vega-lite spec to an SVG string whose ids are unique to `id` (several SVGs share one page). */
export async function renderSvg(spec: VegaLiteSpec, id: string): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile({ config: CONFIG, ...spec } as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return uniqueIds(svg, id);
  } finally {
    view.finalize();
  }
}

/** Prefixes every id (and every reference to one) so inline SVGs cannot capture each other's clip paths. */
export function uniqueIds(svg: string, prefix: string): string {
  return svg
    .replace(/<\?xml[^>]*>\s*/, '')
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

/** PNG bytes of an SVG (2× zoom), or undefined when resvg is not available on this platform. */
export async function svgToPng(svg: string): Promise<Buffer | undefined> {
  let Resvg: typeof import('@resvg/resvg-js').Resvg;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch {
    return undefined;
  }
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}

// --- specs ---------------------------------------------------------------------------------

/** Pixel size of the LDS-against-compute plots (the label layout below works in these pixels). */
const COMPUTE_W = 420;
const COMPUTE_H = 260;
const LABEL_FONT = 9;
/** DejaVu Sans at 9 px: about 5.6 px per character (a little over, so estimates err toward room). */
const charWidth = (text: string) => text.length * LABEL_FONT * 0.62;

interface Axis {
  domain: [number, number];
  log: boolean;
  px(v: number): number;
  value(px: number): number;
}

function axis(values: number[], pixels: number, log: boolean, flip: boolean, pad: number): Axis {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  let domain: [number, number];
  if (log) domain = [lo / 1.6, hi * 1.6];
  else {
    const span = hi - lo || Math.abs(hi) || 1;
    domain = [lo - pad * span, hi + pad * span];
  }
  const [a, b] = log ? domain.map(Math.log) : domain;
  const t = (v: number) => ((log ? Math.log(v) : v) - a!) / (b! - a!);
  const inv = (f: number) => (log ? Math.exp(a! + f * (b! - a!)) : a! + f * (b! - a!));
  return { domain, log, px: (v) => (flip ? pixels * (1 - t(v)) : pixels * t(v)), value: (px) => inv(flip ? 1 - px / pixels : px / pixels) };
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
const overlaps = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Places each label beside its anchor (right, left, above, below, then the corners)
 * where it overlaps no other label, point, interval bar or line, in plot pixels; a label
 * with no free place is left out (the table under the plot has every number).
 */
export function placeLabels(labels: { x: number; y: number; text: string }[], obstacles: Box[], width: number, height: number): ({ x: number; y: number } | undefined)[] {
  const placed: Box[] = [];
  return labels.map(({ x, y, text }) => {
    const w = charWidth(text);
    const h = LABEL_FONT + 2;
    const candidates = [
      [x + 7 + w / 2, y],
      [x - 7 - w / 2, y],
      [x, y - 10],
      [x, y + 11],
      [x + 5 + w / 2, y - 9],
      [x + 5 + w / 2, y + 10],
      [x - 5 - w / 2, y - 9],
      [x - 5 - w / 2, y + 10],
      [x, y - 20],
      [x, y + 21],
    ] as const;
    for (const [cx, cy] of candidates) {
      const box = { x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2 };
      if (box.x0 < 0 || box.y0 < 0 || box.x1 > width || box.y1 > height) continue;
      if (placed.some((b) => overlaps(b, box)) || obstacles.some((b) => overlaps(b, box))) continue;
      placed.push(box);
      return { x: cx, y: cy };
    }
    return undefined;
  });
}

const ratioText = (r: number) => (r >= 10 ? Math.round(r).toString() : Number(r.toPrecision(2)).toString());

/**
 * LDS against compute, the TRAK paper's plot: one point per (method, count of models,
 * sweep point) with its bootstrap interval as a bar, one line per method through its
 * points in order of cost (never across methods: a method's name is its kind and
 * distinguishing params), each point labelled with its count (S=10, N=300), and a
 * dashed mark from each TRAK line's first point that reaches a datamodels point's LDS
 * to that point, labelled with the factor of models (or seconds) saved.
 */
export function ldsComputeSpec(points: ComputePoint[], x: 'seconds' | 'models', reach: Reach[] = []): VegaLiteSpec {
  const sweep = new Set(points.map((p) => p.point)).size > 1;
  const values = points.map((p) => ({ method: p.method, name: p.name, stage: p.stage, lds: p.lds, low: p.low, high: p.high, x: p[x], text: [p.count, sweep ? p.point : ''].filter(Boolean).join(' · ') }));
  const xs = values.map((v) => v.x).filter((v) => v > 0);
  // Log x as in the TRAK paper: costs of methods differ by orders of magnitude.
  const log = new Set(xs).size > 1 && values.every((v) => v.x > 0);
  const X = axis(values.map((v) => v.x), COMPUTE_W, log, false, 0.08);
  const Y = axis(values.flatMap((v) => [v.low, v.high, v.lds]).filter(Number.isFinite), COMPUTE_H, false, true, 0.1);
  const xTitle = x === 'seconds' ? `compute seconds (scores and everything upstream${log ? ', log scale' : ''})` : `models trained${log ? ' (log scale)' : ''}`;
  const xScale = log ? { type: 'log', domain: X.domain, nice: false } : { type: 'linear', domain: X.domain, nice: false, zero: false };
  const yScale = { domain: Y.domain, nice: false, zero: false };
  const xEnc = (field: string) => ({ field, type: 'quantitative', title: xTitle, scale: xScale });
  const yEnc = (field: string) => ({ field, type: 'quantitative', title: 'LDS (mean over targets)', scale: yScale });
  const color = { field: 'method', type: 'nominal', title: 'method', legend: { labelLimit: 260, orient: 'bottom', columns: 2 } };

  // What labels must not cover: the points, their interval bars, the lines between them.
  const obstacles: Box[] = [];
  for (const v of values) {
    const px = X.px(v.x);
    obstacles.push({ x0: px - 4, y0: Y.px(v.lds) - 4, x1: px + 4, y1: Y.px(v.lds) + 4 }, { x0: px - 1, y0: Y.px(v.high), x1: px + 1, y1: Y.px(v.low) });
  }
  const byMethod = new Map<string, typeof values>();
  for (const v of values) byMethod.set(v.method, [...(byMethod.get(v.method) ?? []), v]);
  for (const line of byMethod.values()) {
    const sorted = [...line].sort((a, b) => a.x - b.x);
    for (let i = 1; i < sorted.length; i++) {
      const [ax, ay, bx, by] = [X.px(sorted[i - 1]!.x), Y.px(sorted[i - 1]!.lds), X.px(sorted[i]!.x), Y.px(sorted[i]!.lds)];
      const steps = Math.ceil(Math.hypot(bx - ax, by - ay) / 4);
      for (let s = 1; s < steps; s++) obstacles.push({ x0: ax + ((bx - ax) * s) / steps - 1.5, y0: ay + ((by - ay) * s) / steps - 1.5, x1: ax + ((bx - ax) * s) / steps + 1.5, y1: ay + ((by - ay) * s) / steps + 1.5 });
    }
  }

  // Reach marks first (they matter most), then the counts.
  const marks = reach.filter((r) => r.reached && r.reached[x] > 0 && r.reference[x] > 0);
  const rules = marks.map((r) => ({ x1: r.reached![x], x2: r.reference[x], lds: r.reference.lds }));
  for (const r of rules) obstacles.push({ x0: Math.min(X.px(r.x1), X.px(r.x2)), y0: Y.px(r.lds) - 1, x1: Math.max(X.px(r.x1), X.px(r.x2)), y1: Y.px(r.lds) + 1 });
  const reachLabels = marks.map((r) => {
    const factor = r.reference[x] / r.reached![x];
    const text = factor >= 1 ? `${ratioText(factor)}× fewer ${x === 'seconds' ? 'seconds' : 'models'}` : `${ratioText(1 / factor)}× more ${x === 'seconds' ? 'seconds' : 'models'}`;
    const mid = log ? Math.sqrt(r.reached![x] * r.reference[x]) : (r.reached![x] + r.reference[x]) / 2;
    return { x: X.px(mid), y: Y.px(r.reference.lds), text };
  });
  const countLabels = values.filter((v) => v.text).map((v) => ({ x: X.px(v.x), y: Y.px(v.lds), text: v.text, method: v.method }));
  const spots = placeLabels([...reachLabels, ...countLabels], obstacles, COMPUTE_W, COMPUTE_H);
  const placedText = (list: { text: string; method?: string }[], offset: number) =>
    list.flatMap((l, i) => {
      const at = spots[offset + i];
      return at ? [{ ...l, lx: X.value(at.x), ly: Y.value(at.y) }] : [];
    });

  const layers: VegaLiteSpec[] = [
    { mark: { type: 'line', opacity: 0.6 }, encoding: { x: xEnc('x'), y: yEnc('lds'), color, detail: { field: 'method' }, order: { field: 'x' } } },
    { mark: { type: 'rule' }, encoding: { x: xEnc('x'), y: yEnc('low'), y2: { field: 'high' }, color } },
    {
      mark: { type: 'point', filled: true, size: 50 },
      encoding: { x: xEnc('x'), y: yEnc('lds'), color, tooltip: [{ field: 'name' }, { field: 'stage' }, { field: 'lds' }, { field: 'low' }, { field: 'high' }, { field: 'x', title: x }] },
    },
  ];
  if (rules.length) layers.push({ data: { values: rules }, mark: { type: 'rule', strokeDash: [4, 3], color: '#666' }, encoding: { x: xEnc('x1'), x2: { field: 'x2' }, y: yEnc('lds') } });
  const reachText = placedText(reachLabels, 0);
  if (reachText.length) layers.push({ data: { values: reachText }, mark: { type: 'text', fontSize: LABEL_FONT, color: '#444', fontStyle: 'italic' }, encoding: { x: xEnc('lx'), y: yEnc('ly'), text: { field: 'text' } } });
  const countText = placedText(countLabels, reachLabels.length);
  if (countText.length) layers.push({ data: { values: countText }, mark: { type: 'text', fontSize: LABEL_FONT }, encoding: { x: xEnc('lx'), y: yEnc('ly'), text: { field: 'text' }, color } });
  return { width: COMPUTE_W, height: COMPUTE_H, data: { values }, layer: layers };
}

/** ĝ_j(S_k) against f̄(x_j; θ(S_k)) for each shown target of one lds entry, one panel per target. */
export function scatterSpec(detail: ScoresDetail): VegaLiteSpec | undefined {
  const values: Record<string, unknown>[] = [];
  const order: string[] = [];
  for (const t of detail.targets) {
    if (!t.predicted || !t.real) continue;
    const name = `test #${t.testIndex}${t.target ? ` (${t.target.labelName})` : ''} · target LDS ${fmt(t.lds)}`;
    order.push(name);
    for (let k = 0; k < t.predicted.length; k++) values.push({ target: name, predicted: t.predicted[k], real: t.real[k] });
  }
  if (values.length === 0) return undefined;
  return {
    data: { values },
    facet: { field: 'target', type: 'nominal', title: null, sort: order, header: { labelFontSize: 10, labelLimit: 0 } },
    columns: Math.min(3, order.length),
    spec: {
      width: 200,
      height: 170,
      mark: { type: 'point', filled: true, size: 30, opacity: 0.7 },
      encoding: {
        x: { field: 'predicted', type: 'quantitative', title: 'predicted: sum of τ_i over the subset', scale: { zero: false } },
        y: { field: 'real', type: 'quantitative', title: 'real margin (mean over seeds)', scale: { zero: false } },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  };
}

/** Histogram of LDS_j over the targets of one lds entry. */
export function ldsHistogramSpec(perTarget: ArrayLike<number>): VegaLiteSpec {
  // Undefined LDS_j (NaN: dropped from the LDS, stages/lds.ts) are left out here too.
  const values = Array.from(perTarget, (lds) => ({ lds })).filter((v) => !Number.isNaN(v.lds));
  return {
    width: 340,
    height: 160,
    data: { values },
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      x: { field: 'lds', type: 'quantitative', bin: { extent: [-1, 1], step: 0.1 }, title: 'per-target LDS (Spearman over subsets)', scale: { domain: [-1, 1] } },
      y: { aggregate: 'count', type: 'quantitative', title: 'targets' },
    },
  };
}

/** Per-target LDS of several lds entries side by side (sweep pages). */
export function ldsBoxplotSpec(series: { label: string; method: string; values: ArrayLike<number> }[]): VegaLiteSpec {
  const values = series.flatMap((s) => Array.from(s.values, (lds) => ({ label: s.label, method: s.method, lds })).filter((v) => !Number.isNaN(v.lds)));
  return {
    width: 340,
    data: { values },
    mark: { type: 'boxplot', extent: 'min-max', size: 12 },
    encoding: {
      y: { field: 'label', type: 'nominal', title: null, sort: series.map((s) => s.label), axis: { labelLimit: 300 } },
      x: { field: 'lds', type: 'quantitative', title: 'per-target LDS (Spearman over subsets)', scale: { domain: [-1, 1] } },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
  };
}

export function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(digits)).toString();
}
