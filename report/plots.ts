/**
 * Plots: vega-lite specs compiled and rendered to SVG in Node (vega's headless view, no
 * browser, no canvas), and to PNG through resvg for slides and papers. The page inlines
 * the SVG; nothing is fetched when it is opened.
 */
import type { ComputePoint, ScoresDetail } from './evidence.ts';

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

/**
 * LDS against compute, one point per (method, sweep point), with the bootstrap interval
 * as a bar and a line through each method's points in order of cost: the trade-off curve.
 */
export function ldsComputeSpec(points: ComputePoint[], x: 'seconds' | 'models'): VegaLiteSpec {
  const values = points.map((p) => ({ ...p, x: p[x] }));
  const xs = values.map((v) => v.x).filter((v) => v > 0);
  const log = xs.length > 1 && Math.max(...xs) / Math.min(...xs) > 20 && values.every((v) => v.x > 0);
  const xTitle = x === 'seconds' ? 'seconds (scores and everything upstream)' : 'models trained for the scores';
  const xEnc = { field: 'x', type: 'quantitative', title: xTitle, scale: log ? { type: 'log' } : { zero: false, nice: true } };
  const color = { field: 'method', type: 'nominal', title: 'method' };
  const layers: VegaLiteSpec[] = [
    { mark: { type: 'line', opacity: 0.5 }, encoding: { x: xEnc, y: { field: 'lds', type: 'quantitative' }, color, order: { field: 'x' } } },
    { mark: { type: 'rule' }, encoding: { x: xEnc, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color } },
    {
      mark: { type: 'point', filled: true, size: 60 },
      encoding: { x: xEnc, y: { field: 'lds', type: 'quantitative', title: 'LDS', scale: { zero: false } }, color },
    },
  ];
  if (new Set(values.map((v) => v.point)).size > 1 && values.length <= 16) {
    layers.push({ mark: { type: 'text', align: 'left', dx: 7, dy: -6, fontSize: 9, color: '#555' }, encoding: { x: xEnc, y: { field: 'lds', type: 'quantitative' }, text: { field: 'point' } } });
  }
  return { width: 340, height: 230, data: { values }, layer: layers };
}

/** ĝ_j(S_k) against f̄(x_j; θ(S_k)) for each shown target of one lds entry, one panel per target. */
export function scatterSpec(detail: ScoresDetail): VegaLiteSpec | undefined {
  const values: Record<string, unknown>[] = [];
  const order: string[] = [];
  for (const t of detail.targets) {
    if (!t.predicted || !t.real) continue;
    const name = `test #${t.testIndex}${t.target ? ` (${t.target.labelName})` : ''} · LDS_j ${fmt(t.lds)}`;
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
        x: { field: 'predicted', type: 'quantitative', title: 'predicted Σ_{i∈S_k} τ_i', scale: { zero: false } },
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
      x: { field: 'lds', type: 'quantitative', bin: { extent: [-1, 1], step: 0.1 }, title: 'LDS_j (Spearman over subsets)', scale: { domain: [-1, 1] } },
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
      x: { field: 'lds', type: 'quantitative', title: 'LDS_j (Spearman over subsets)', scale: { domain: [-1, 1] } },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
  };
}

export function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(digits)).toString();
}
