/**
 * Report pages, shared by `attrib report` and the `report` stage kind:
 *
 *   experiment page   headline LDS, the DAG, every stage with its state, time and
 *                     metrics, LDS against compute, and per lds stage: the per-target
 *                     LDS distribution, predicted against real outputs for a few targets,
 *                     and those targets beside their top proponents and opponents.
 *   sweep page        one row per sweep point with links to the point pages, the DAG of
 *                     all points (shared entries drawn once), LDS against compute over
 *                     every point, per-target LDS of every lds entry side by side.
 *
 * A page is one self-contained HTML file (inline SVG, images as data: URIs, inline CSS,
 * no script); the plots are also written beside it as SVG and PNG files.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/io/atomic.ts';
import { formatMetrics } from '../pipeline/record.ts';
import { dagSvg, STATE_STYLE } from './dag.ts';
import { computePoints, finishedLds, reaches, scoresDetail, type ComputePoint, type Reach, type Example, type ScoresDetail, type TargetDetail } from './evidence.ts';
import { experimentsOf, nodesOf, topological, type ExperimentView, type ReportGraph, type StageNode } from './graph.ts';
import { escapeHtml as esc, htmlTable, page } from './html.ts';
import { formatPaired, PAIRED, pairedLdsEntries } from '../lib/evaluation/paired.ts';
import { fmt, ldsBoxplotSpec, ldsComputeSpec, ldsHistogramSpec, renderSvg, scatterSpec, svgToPng, type Plot, type VegaLiteSpec } from './plots.ts';

export interface ReportOptions {
  /** Targets shown per lds / scores entry (spread from the best LDS_j to the worst). */
  targets: number;
  /** Proponents and opponents shown per target. */
  top: number;
  /** Also write plots/<id>.png (through resvg). */
  png: boolean;
  /** A line saying when and how the page was made (left out when undefined). */
  generated?: string;
}

export const DEFAULT_OPTIONS: ReportOptions = { targets: 3, top: 5, png: true };

export interface ReportPage {
  title: string;
  html: string;
  plots: Plot[];
  /** Number of example images on the page. */
  images: number;
}

/** Collects the plots of one page and renders them. */
class Plots {
  readonly list: Plot[] = [];
  async add(id: string, title: string, caption: string, spec: VegaLiteSpec | undefined): Promise<string> {
    if (!spec) return '';
    const unique = this.list.some((p) => p.id === id) ? `${id}-${this.list.length}` : id;
    const svg = await renderSvg(spec, unique);
    this.list.push({ id: unique, title, caption, svg });
    return `<figure class="plot" id="${unique}" data-plot="${unique}"><figcaption>${esc(title)}</figcaption>${svg}<p class="caption">${esc(caption)}</p></figure>`;
  }
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';

function stateBadge(n: StageNode): string {
  const s = STATE_STYLE[n.state];
  return `<span class="state" style="background:${s.fill};border-color:${s.stroke}" title="${esc(n.stateText)}">${esc(n.state === 'done' ? n.stateText : n.stateText.split(':')[0]!)}</span>${n.state === 'failed' || n.state === 'corrupt' ? ` <span class="problem">${esc(n.stateText.slice(n.stateText.indexOf(':') + 1).trim())}</span>` : ''}`;
}

function legend(): string {
  return `<div class="legend">${Object.values(STATE_STYLE)
    .map((s) => `<span><i style="background:${s.fill};border-color:${s.stroke}"></i>${esc(s.legend)}</span>`)
    .join('')}</div>`;
}

function stagesTable(nodes: StageNode[]): string {
  const rows = [['stage', 'kind', 'state', 'seconds', 'units', 'metrics', 'entry']];
  for (const n of nodes) {
    const m = n.manifest;
    rows.push([
      esc(n.label),
      esc(n.kind),
      stateBadge(n),
      m ? esc(fmt(m.seconds)) : '–',
      m ? String(m.units) : '–',
      esc(m ? formatMetrics(m.metrics, ['seconds', 'units']) : ''),
      `<code title="${esc(n.dir)}">${n.hash.slice(0, 12)}</code>`,
    ]);
  }
  return `<div class="scroll">${htmlTable(rows, { className: 'stages', numeric: [3, 4], columnClass: { 5: 'metrics' } })}</div>`;
}

function headline(points: ComputePoint[], graph: ReportGraph): string {
  if (points.length === 0) return '';
  return `<div class="headline">${points
    .map((p) => {
      const node = graph.nodes.get(p.ldsHash)!;
      const m = node.manifest!.metrics;
      return `<div class="card" data-lds="${esc(node.label)}" data-method="${esc(p.method)}"><div>${esc(p.name)} <span class="note">(${esc(p.stage)}, ${esc(node.label)})</span></div><div class="value">LDS ${fmt(p.lds)}</div><div class="note">${p.low !== p.high ? `CI ${fmt(p.low)} … ${fmt(p.high)} · ` : ''}${m.targets ?? '?'} targets · ${m.subsets ?? '?'} subsets × ${fmt(p.seedsPerSubset)} seed(s)</div></div>`;
    })
    .join('')}</div>`;
}

async function computeSection(plots: Plots, points: ComputePoint[], prefix: string): Promise<string> {
  if (points.length === 0) return `<p class="note">No lds stage has finished yet: nothing to plot.</p>`;
  const seeds = [...new Set(points.map((p) => p.seedsPerSubset))].join(' / ');
  const reach = reaches(points);
  const caption = `One line per method (its kind and the params that set it apart), one point per number of models it used (S for TRAK, N for datamodels) and sweep point; bars are each lds stage's bootstrap interval (over targets and subsets unless its resample param says otherwise). Ground truth: ${seeds} seed(s) per subset (more seeds raise the attainable LDS).${reach.some((r) => r.reached) ? ' Dashed: from the first TRAK point that reaches a datamodels point\'s LDS to that point, with the factor saved.' : ''}`;
  return [
    await plots.add(`${prefix}lds-vs-models`, 'LDS against models trained', `${caption} Models: those trained upstream of the scores (only the first N where a stage uses the first N of a larger ensemble).`, ldsComputeSpec(points, 'models', reach)),
    await plots.add(`${prefix}lds-vs-seconds`, 'LDS against compute', `${caption} Seconds: the scores stage's and every stage's upstream of it (the ground-truth branch excluded), as recorded when each ran; a stage using the first N of M models is charged N/M of the training and featurizing.`, ldsComputeSpec(points, 'seconds', reach)),
    pointsTable(points),
    reachTable(reach),
  ].join('\n');
}

/** Every point of the compute plots as numbers, so nothing hides behind an unplaced label. */
function pointsTable(points: ComputePoint[]): string {
  const rows = [['method', 'models', 'LDS', 'interval', 'seconds', 'scores stage', 'lds stage']];
  const sorted = [...points].sort((a, b) => a.method.localeCompare(b.method) || a.models - b.models);
  for (const p of sorted) rows.push([esc(p.name), String(p.models), fmt(p.lds), p.low !== p.high ? `${fmt(p.low)} … ${fmt(p.high)}` : '–', fmt(p.seconds), esc(p.stage), esc(p.ldsLabel)]);
  return `<div class="scroll">${htmlTable(rows, { className: 'points', numeric: [1, 2, 4] })}</div>`;
}

/** For each datamodels point: the first TRAK point with at least its LDS, and what that saves. */
function reachTable(reach: Reach[]): string {
  if (reach.length === 0) return '';
  const rows = [['datamodels', 'LDS', 'first TRAK point reaching it', 'its LDS', 'fewer models', 'less compute']];
  for (const r of reach) {
    const ref = r.reference;
    const hit = r.reached;
    rows.push([
      esc(ref.name),
      fmt(ref.lds),
      hit ? esc(hit.name) : `<span class="note">not reached (best: ${esc(r.best.name)}, ${fmt(r.best.lds)})</span>`,
      hit ? fmt(hit.lds) : '–',
      hit && hit.models > 0 ? `${fmt(ref.models / hit.models)}×` : '–',
      hit && hit.seconds > 0 ? `${fmt(ref.seconds / hit.seconds)}×` : '–',
    ]);
  }
  return `<h3>Where TRAK reaches datamodels</h3><div class="scroll" data-table="reach">${htmlTable(rows, { className: 'reach', numeric: [1, 3, 4, 5] })}</div>`;
}

function exampleHtml(e: Example, role: 'target' | 'pro' | 'opp'): string {
  const score = e.score !== undefined ? `<br><span class="${role}">τ ${fmt(e.score)}</span>` : '';
  const alt = `${e.split} #${e.index}, label ${e.labelName}`;
  return `<div class="example${role === 'target' ? ' is-target' : ''}"><img src="${e.image}" alt="${esc(alt)}" width="64" height="64">${esc(`#${e.index} · ${e.labelName}`)}${score}</div>`;
}

function featureTable(detail: ScoresDetail, t: TargetDetail): string {
  const names = detail.dataset!.featureNames();
  const shown = Math.min(names.length, 16);
  const row = (role: string, e: Example) => [
    role === 'target' ? role : `<span class="${role === 'proponent' ? 'pro' : 'opp'}">${role}</span>`,
    `${e.split} #${e.index}`,
    esc(e.labelName),
    e.score !== undefined ? fmt(e.score) : '',
    ...e.features!.slice(0, shown).map((v) => fmt(v, 4)),
  ];
  const rows = [['', 'example', 'label', 'τ', ...names.slice(0, shown).map(esc)]];
  rows.push(row('target', t.target!));
  for (const e of t.proponents) rows.push(row('proponent', e));
  for (const e of t.opponents) rows.push(row('opponent', e));
  const html = htmlTable(rows, { className: 'features', numeric: [3, ...Array.from({ length: shown }, (_, i) => i + 4)], rowClass: (b) => (b === 0 ? 'target-row' : undefined) });
  return `<div class="scroll">${html}</div>${names.length > shown ? `<p class="note">first ${shown} of ${names.length} features</p>` : ''}`;
}

function examplesSection(detail: ScoresDetail): string {
  if (!detail.dataset) return `<p class="note">The data set is not available: no examples.</p>`;
  const image = detail.dataset.meta.image;
  const parts: string[] = [];
  for (const t of detail.targets) {
    if (!t.target) continue;
    const who = `<div class="who"><b>target: test #${t.testIndex}</b><br>label ${esc(t.target.labelName)}${t.lds !== undefined ? `<br>target LDS ${fmt(t.lds)}` : ''}</div>`;
    if (image) {
      parts.push(
        `<div class="target-block" data-target="${t.testIndex}">${who}<div>${exampleHtml(t.target, 'target')}</div><div>` +
          `<div class="row-label pro">top proponents (training on them raises the target's margin)</div><div class="examples">${t.proponents.map((e) => exampleHtml(e, 'pro')).join('')}</div>` +
          `<div class="row-label opp">top opponents (training on them lowers it)</div><div class="examples">${t.opponents.map((e) => exampleHtml(e, 'opp')).join('')}</div>` +
          `</div></div>`,
      );
    } else {
      parts.push(`<div class="target-block" data-target="${t.testIndex}">${who}<div>${featureTable(detail, t)}</div></div>`);
    }
  }
  return parts.join('\n');
}

async function detailSection(plots: Plots, detail: ScoresDetail, graph: ReportGraph): Promise<string> {
  const { lds, scores } = detail;
  const id = slug(lds ? lds.label : scores.label);
  const title = lds ? `LDS: ${lds.label}` : `Attributions: ${scores.label}`;
  const out: string[] = [`<section id="section-${id}" data-section="${lds ? 'lds' : 'scores'}">`, `<h2>${esc(title)}</h2>`];
  const m = lds?.manifest?.metrics;
  const upstream = lds ? graph.nodes.get(lds.inputs.models!) : undefined;
  out.push(
    `<p class="meta">scores: ${esc(scores.label)} (${esc(scores.kind)})${upstream ? ` · ground truth: ${esc(upstream.label)}` : ''}${m ? ` · LDS ${fmt(m.lds as number)} ± ${fmt(m.ldsStd as number)} (std over targets) · ${m.targets} targets · ${m.subsets} subsets × ${m.seedsPerSubset} seed(s)` : ''}</p>`,
  );
  for (const p of detail.problems) out.push(`<p class="problem">${esc(p)}</p>`);
  if (detail.perTarget) {
    out.push(await plots.add(`${id}-lds-per-target`, 'Per-target LDS', `The LDS of each of the ${detail.perTarget.length} targets (the Spearman correlation over the ground-truth subsets); the LDS is their mean.`, ldsHistogramSpec(detail.perTarget)));
  }
  const scatter = scatterSpec(detail);
  if (scatter) {
    out.push(
      await plots.add(
        `${id}-predicted-vs-real`,
        'Predicted against real outputs',
        'For each shown target (best, median and worst target LDS), one point per ground-truth subset: the linear prediction (the sum of the scores τ_i of the train examples in the subset) against the margin of the models trained on that subset. The target\'s LDS is the Spearman correlation of these points.',
        scatter,
      ),
    );
  }
  if (detail.targets.length) {
    out.push(`<h3>Targets and their top proponents and opponents</h3>`, examplesSection(detail));
  }
  out.push('</section>');
  return out.join('\n');
}

function header(title: string, lines: string[], opts: ReportOptions): string {
  const meta = [...lines, ...(opts.generated ? [opts.generated] : [])];
  return `<header><h1>${esc(title)}</h1>${meta.map((l) => `<p class="meta">${l}</p>`).join('')}</header>`;
}

/**
 * Per ground truth with several lds entries: each entry against the next lower one,
 * "A − B = d [lo, hi]" with the paired two-way bootstrap interval (lib/evaluation/paired.ts),
 * so "A beats B" comes with its interval. Neighbours only: n − 1 pairs, not n².
 */
function pairedSection(lds: StageNode[]): string {
  const byTruth = new Map<string, StageNode[]>();
  for (const l of lds) byTruth.set(l.inputs.models!, [...(byTruth.get(l.inputs.models!) ?? []), l]);
  const rows = [['A', 'B', `A − B [${PAIRED.ci * 100}% CI]`]];
  for (const group of byTruth.values()) {
    const sorted = group.sort((x, y) => (y.manifest!.metrics.lds as number) - (x.manifest!.metrics.lds as number));
    for (let i = 0; i + 1 < sorted.length; i++) {
      const [a, b] = [sorted[i]!, sorted[i + 1]!];
      const p = pairedLdsEntries(a.dir, b.dir, PAIRED);
      rows.push([esc(a.label), esc(b.label), p.ok ? esc(formatPaired(a.label, b.label, p.result)) : `<span class="note">${esc(p.reason)}</span>`]);
    }
  }
  if (rows.length === 1) return '';
  const note = `<p class="note">Each lds entry against the next lower one on the same ground truth: the same targets and subsets resampled for both (${PAIRED.resamples} resamples).</p>`;
  return `<section id="paired" data-section="paired"><h2>Paired differences</h2>${note}${htmlTable(rows)}</section>`;
}

/** The page of one experiment (one sweep point), or of a report stage's upstream graph. */
export async function experimentPage(graph: ReportGraph, experiment: ExperimentView, opts: ReportOptions = DEFAULT_OPTIONS, links: { sweep?: string } = {}): Promise<ReportPage> {
  const plots = new Plots();
  const nodes = nodesOf(graph, experiment);
  const lds = finishedLds(nodes);
  const points = computePoints(graph, lds);
  const detailed = new Set(lds.map((l) => l.inputs.scores));
  const bareScores = nodes.filter((n) => n.output === 'scores' && n.state === 'done' && !detailed.has(n.hash));
  const done = nodes.filter((n) => n.state === 'done').length;

  const body: string[] = [];
  const lines = [
    `${esc(graph.source)}${experiment.point ? ` · sweep point <b>${esc(experiment.point)}</b>` : ''}${links.sweep ? ` · <a href="${esc(links.sweep)}">all sweep points</a>` : ''}`,
    `${done} of ${nodes.length} stages finished${experiment.run ? '' : ' · never run'}`,
  ];
  body.push(header(experiment.name, lines, opts));
  body.push(headline(points, graph));
  const sections = [['stages', 'Stages'], ['compute', 'LDS against compute'], ...lds.map((l) => [`section-${slug(l.label)}`, `LDS: ${l.label}`]), ...bareScores.map((s) => [`section-${slug(s.label)}`, `Attributions: ${s.label}`])];
  body.push(`<nav class="toc">${sections.map(([id, t]) => `<a href="#${id}">${esc(t!)}</a>`).join('')}</nav>`);
  body.push(`<section id="stages" data-section="stages"><h2>Stages</h2>${legend()}<div class="scroll">${dagSvg(nodes, 'dag')}</div>${stagesTable(nodes)}</section>`);
  body.push(`<section id="compute" data-section="compute"><h2>LDS against compute</h2>${await computeSection(plots, points, '')}</section>`);
  const paired = pairedSection(lds);
  if (paired) body.push(paired);
  for (const l of lds) body.push(await detailSection(plots, scoresDetail(graph, l, opts), graph));
  for (const s of bareScores) body.push(await detailSection(plots, scoresDetail(graph, s, opts), graph));
  const html = page(`${experiment.name}: attrib report`, body.join('\n'));
  return { title: experiment.name, html, plots: plots.list, images: (html.match(/<img /g) ?? []).length };
}

/** The page over every sweep point of a config. `links` maps an experiment name to its page. */
export async function sweepPage(graph: ReportGraph, opts: ReportOptions = DEFAULT_OPTIONS, links: Map<string, string> = new Map()): Promise<ReportPage> {
  const plots = new Plots();
  const baseName = graph.experiments[0]?.baseName ?? 'sweep';
  const all = topological([...graph.nodes.values()]);
  const lds = finishedLds(all);
  const points = computePoints(graph, lds);
  const ldsNames = [...new Set(graph.experiments.flatMap((e) => nodesOf(graph, e).filter((n) => n.output === 'lds').map((n) => n.name)))];

  const rows = [['sweep point', 'stages finished', ...ldsNames.map((n) => `LDS ${esc(n)}`)]];
  for (const e of graph.experiments) {
    const nodes = nodesOf(graph, e);
    const link = links.get(e.name);
    const cells = ldsNames.map((name) => {
      const n = nodes.find((x) => x.name === name);
      return n?.state === 'done' ? fmt(n.manifest!.metrics.lds as number) : n ? esc(n.stateText) : '';
    });
    rows.push([link ? `<a href="${esc(link)}">${esc(e.point || e.name)}</a>` : esc(e.point || e.name), `${nodes.filter((n) => n.state === 'done').length} / ${nodes.length}`, ...cells]);
  }

  const body: string[] = [];
  body.push(header(baseName, [`${esc(graph.source)} · sweep of ${graph.experiments.length} points · ${graph.nodes.size} distinct stage instances (points share what they have in common)`], opts));
  body.push(`<nav class="toc"><a href="#points">Sweep points</a><a href="#compute">LDS against compute</a><a href="#distribution">Per-target LDS</a><a href="#stages">Stages</a></nav>`);
  body.push(`<section id="points" data-section="points"><h2>Sweep points</h2>${htmlTable(rows, { numeric: [1, ...ldsNames.map((_, i) => i + 2)] })}</section>`);
  body.push(`<section id="compute" data-section="compute"><h2>LDS against compute</h2>${await computeSection(plots, points, '')}</section>`);
  const series: { label: string; method: string; values: Float32Array }[] = [];
  for (const l of lds) {
    const detail = scoresDetail(graph, l, { targets: 0, top: 0 });
    if (detail.perTarget) series.push({ label: l.label, method: points.find((p) => p.ldsHash === l.hash)?.method ?? detail.scores.name, values: detail.perTarget });
  }
  body.push(
    `<section id="distribution" data-section="distribution"><h2>Per-target LDS</h2>${
      series.length
        ? await plots.add('lds-per-target', 'Per-target LDS of every lds entry', 'Each box spans the per-target LDS of one lds entry from its worst target to its best; the line is the median. The per-point pages show the targets themselves.', ldsBoxplotSpec(series))
        : '<p class="note">No lds stage has finished yet.</p>'
    }</section>`,
  );
  const shared = all.filter((n) => experimentsOf(graph, n.hash).length > 1).length;
  body.push(`<section id="stages" data-section="stages"><h2>Stages</h2><p class="note">${shared} of ${all.length} stage instances are shared by several points.</p>${legend()}<div class="scroll">${dagSvg(all, 'dag')}</div>${stagesTable(all)}</section>`);
  const html = page(`${baseName}: attrib sweep report`, body.join('\n'));
  return { title: baseName, html, plots: plots.list, images: 0 };
}

/** Writes index.html and plots/<id>.svg (+ .png) into `dir`; returns the page's path. */
export async function writePage(dir: string, report: ReportPage, opts: Pick<ReportOptions, 'png'>): Promise<{ page: string; files: string[] }> {
  mkdirSync(join(dir, 'plots'), { recursive: true });
  const files: string[] = [];
  const write = (path: string, data: string | Buffer) => {
    writeFileAtomic(path, data);
    files.push(path);
  };
  for (const p of report.plots) {
    write(join(dir, 'plots', `${p.id}.svg`), `<?xml version="1.0" encoding="utf-8"?>\n${p.svg}\n`);
    if (opts.png) {
      const png = await svgToPng(p.svg);
      if (png) write(join(dir, 'plots', `${p.id}.png`), png);
    }
  }
  const path = join(dir, 'index.html');
  write(path, report.html);
  return { page: path, files };
}
