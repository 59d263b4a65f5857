// `attrib report`, the `report` stage kind and `attrib compare` on tiny real runs (iris
// with a sweep, MNIST digits): the pages hold the expected plots, tables and images, are
// self-contained, run nothing, show stages not run as such; the numbers behind the plots
// are the ones the lds stage scored.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import { loadConfig } from '../../pipeline/config.ts';
import { planExperiment } from '../../pipeline/plan.ts';
import { Registry } from '../../pipeline/registry.ts';
import { spearman } from '../../lib/linalg/index.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { computePoints, finishedLds, scoresDetail } from '../../report/evidence.ts';
import { graphFromPlans, nodesOf } from '../../report/graph.ts';
import { attrib, fixtureRuns, IMAGE, read, reportPage, runJson, storeSnapshot, TABULAR, tags } from './helpers.ts';

const POINT = 'report-tabular@count=3';

function figures(html: string): string[] {
  return tags(html, 'figure').map((a) => a['data-plot']!);
}

/** Every <figure class="plot"> holds an inline <svg> with a size. */
function plotsHaveSvg(html: string): boolean {
  const parts = html.split('<figure class="plot"').slice(1);
  return parts.every((p) => /<svg[^>]*width="\d+(\.\d+)?"[^>]*height="\d+/.test(p.slice(0, p.indexOf('</figure>'))));
}

function pngSize(uri: string): { width: number; height: number; bytes: Buffer } {
  const bytes = Buffer.from(uri.replace(/^data:image\/png;base64,/, ''), 'base64');
  if (bytes.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), bytes };
}

function selfContained(t: import('ava').ExecutionContext, html: string): void {
  t.false(/<script/i.test(html), 'no script');
  t.false(/(src|href)="(https?:)?\/\//i.test(html), 'no network reference');
  t.false(/<link\b/i.test(html), 'no linked style sheet');
  for (const img of tags(html, 'img')) t.true(img.src!.startsWith('data:image/png;base64,'), 'images are data: URIs');
}

test('experiment page of a sweep point: DAG, stage table, LDS plots, feature rows', async (t) => {
  const { runs, reports } = await fixtureRuns();
  t.regex(reports.tabular.stdout, /report-tabular@count=1\/report\/index.html/);
  t.regex(reports.tabular.stdout, /report-tabular\/report\/index.html\s+\(sweep of 2 points/);
  const html = read(reportPage(runs, POINT));
  selfContained(t, html);
  const run = runJson(runs, POINT);
  const stages = Object.keys(run);
  t.is(stages.length, 11);

  // DAG: one node per stage, all finished; the stage table lists each with its metrics.
  const nodes = tags(html, 'g').filter((a) => a.class === 'node');
  t.is(nodes.length, stages.length);
  t.true(nodes.every((n) => n['data-state'] === 'done'));
  t.deepEqual(new Set(nodes.map((n) => n['data-hash'])), new Set(Object.values(run).map((e) => e.hash)));
  for (const name of stages) t.regex(html, new RegExp(`<tr><td>${name}</td>`));
  t.regex(html, /lds=0\.\d+ ldsStd=/);
  // lds_trak and lds_graddot share gt_models: their paired difference, higher minus lower.
  t.regex(html, /<section id="paired"[\s\S]*(lds_trak − lds_graddot|lds_graddot − lds_trak) = -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]/);

  // Plots: LDS against compute (seconds and models), and per lds stage its per-target
  // distribution and the predicted-vs-real scatter.
  t.deepEqual(figures(html).sort(), ['lds-graddot-lds-per-target', 'lds-graddot-predicted-vs-real', 'lds-trak-lds-per-target', 'lds-trak-predicted-vs-real', 'lds-vs-models', 'lds-vs-seconds']);
  t.true(plotsHaveSvg(html));
  const lds = run.lds_trak!.metrics.lds as number;
  t.regex(html, new RegExp(`LDS ${Number(lds.toPrecision(3))}`));

  // Tabular data: feature rows with the iris feature names, 3 targets × (1 + 5 + 5) rows per lds.
  t.is(tags(html, 'div').filter((a) => a.class === 'target-block').length, 6);
  t.is((html.match(/<tr class="target-row">/g) ?? []).length, 6);
  t.regex(html, /<th class="num">sepal_length<\/th>/);
  t.is((html.match(/<span class="pro">proponent<\/span>/g) ?? []).length, 30);
  t.is((html.match(/<span class="opp">opponent<\/span>/g) ?? []).length, 30);

  // Plots also as files, SVG and PNG.
  const plots = readdirSync(join(runs, POINT, 'report', 'plots'));
  t.true(plots.includes('lds-vs-seconds.svg') && plots.includes('lds-vs-seconds.png'), plots.join(' '));
});

test('sweep page: points with links, LDS against compute over both points, shared DAG', async (t) => {
  const { runs } = await fixtureRuns();
  const path = reportPage(runs, 'report-tabular');
  const html = read(path);
  selfContained(t, html);
  t.deepEqual(figures(html).sort(), ['lds-per-target', 'lds-vs-models', 'lds-vs-seconds']);
  t.true(plotsHaveSvg(html));
  const links = tags(html, 'a').map((a) => a.href!).filter((h) => !h.startsWith('#'));
  t.is(links.length, 2);
  for (const href of links) t.true(existsSync(resolve(dirname(path), decodeURIComponent(href))), href);
  const distinct = new Set([...Object.values(runJson(runs, 'report-tabular@count=1')), ...Object.values(runJson(runs, POINT))].map((e) => e.hash));
  t.is(tags(html, 'g').filter((a) => a.class === 'node').length, distinct.size);
  // And the point pages link back.
  const back = tags(read(reportPage(runs, POINT)), 'a').find((a) => a.href?.includes('report-tabular/report'))!;
  t.true(existsSync(resolve(dirname(reportPage(runs, POINT)), decodeURIComponent(back.href!))));
});

test('image data: each target beside its top proponents and opponents as PNG images', async (t) => {
  const { runs, reports } = await fixtureRuns();
  t.regex(reports.image.stdout, /\(4 plots, 33 images\)/);
  const html = read(reportPage(runs, 'report-image'));
  selfContained(t, html);
  t.deepEqual(figures(html).sort(), ['lds-lds-per-target', 'lds-predicted-vs-real', 'lds-vs-models', 'lds-vs-seconds']);
  const imgs = tags(html, 'img');
  t.is(imgs.length, 3 * (1 + 5 + 5));
  for (const img of imgs) {
    const { width, height, bytes } = pngSize(img.src!);
    t.deepEqual([width, height], [28, 28]);
    // Rescaled per image: the darkest pixel is 0 and the brightest 255.
    const idat = bytes.subarray(bytes.indexOf('IDAT') + 4, bytes.indexOf('IEND') - 8);
    const raw = inflateSync(idat);
    const pixels = raw.filter((_, i) => i % 29 !== 0);
    t.is(Math.min(...pixels), 0);
    t.is(Math.max(...pixels), 255);
  }
  t.is(tags(html, 'div').filter((a) => a.class === 'target-block').length, 3);
});

test('the numbers behind the plots: the scatter is what LDS_j correlates, compute excludes the ground truth', async (t) => {
  const { runs } = await fixtureRuns();
  const registry = new Registry();
  registerBuiltins(registry);
  const loaded = await loadConfig(TABULAR, { registry });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const plans = loaded.value.experiments.map(planExperiment);
  const plan = plans.find((p) => p.experiment.name === POINT)!;
  const graph = graphFromPlans([plan], runs, TABULAR);
  const [ldsTrak] = finishedLds(nodesOf(graph, graph.experiments[0]!));
  t.is(ldsTrak!.name, 'lds_trak');

  const detail = scoresDetail(graph, ldsTrak!, { targets: 6, top: 3 });
  t.is(detail.targets.length, 6);
  t.deepEqual(detail.problems, []);
  for (const target of detail.targets) {
    t.is(target.predicted!.length, 16);
    t.true(Math.abs(spearman(Float64Array.from(target.predicted!), Float64Array.from(target.real!)) - target.lds!) < 1e-5, `target ${target.row}`);
  }
  // Targets are ordered from the best LDS_j to the worst.
  const shown = detail.targets.map((x) => x.lds!);
  t.deepEqual(shown, [...shown].sort((a, b) => b - a));

  const [point] = computePoints(graph, [ldsTrak!]);
  const run = runJson(runs, POINT);
  const manifest = (name: string) => JSON.parse(read(join(runs, 'store', run[name]!.hash, 'manifest.json'))) as { seconds: number };
  const expected = ['data', 'masks', 'models', 'features', 'trak'].reduce((s, n) => s + manifest(n).seconds, 0);
  t.true(Math.abs(point!.seconds - expected) < 1e-9, `${point!.seconds} vs ${expected}`);
  t.is(point!.models, 3);
  t.is(point!.method, 'TRAK exact gradients');
  t.is(point!.name, 'TRAK exact gradients S=3');
  t.is(point!.lds, run.lds_trak!.metrics.lds as number);
});

test('the report stage kind writes the page into its store entry', async (t) => {
  const { runs } = await fixtureRuns();
  const run = runJson(runs, POINT);
  t.deepEqual(run.report!.metrics.plots, 4);
  t.deepEqual(run.report!.metrics.ldsStages, 1);
  const dir = join(runs, 'store', run.report!.hash);
  const html = read(join(dir, 'index.html'));
  selfContained(t, html);
  t.deepEqual(figures(html).sort(), ['lds-trak-lds-per-target', 'lds-trak-predicted-vs-real', 'lds-vs-models', 'lds-vs-seconds']);
  t.regex(html, /<h2>LDS: lds_trak<\/h2>/);
  t.regex(html, /<h2>Attributions: graddot<\/h2>/);
  // Its upstream graph: everything the lds and the scores depend on (not itself).
  t.is(tags(html, 'g').filter((a) => a.class === 'node').length, 9);
  // targets: 2, top: 3 → 2 targets per section, 1 + 3 + 3 rows each; png: false.
  t.is((html.match(/<tr class="target-row">/g) ?? []).length, 4);
  t.deepEqual(readdirSync(join(dir, 'plots')).filter((f) => f.endsWith('.png')), []);
});

test('attrib report runs nothing, and shows stages not run as such', async (t) => {
  const { runs } = await fixtureRuns();
  const before = storeSnapshot(runs);
  const again = await attrib(['report', IMAGE, '--runs', runs, '--no-png']);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(storeSnapshot(runs), before);

  const empty = mkdtempSync(join(tmpdir(), 'attrib-report-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const r = await attrib(['report', IMAGE, '--runs', empty]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /1 of 1 experiment\(s\) never ran/);
  const html = read(reportPage(empty, 'report-image'));
  const nodes = tags(html, 'g').filter((a) => a.class === 'node');
  t.is(nodes.length, 8);
  t.true(nodes.every((n) => n['data-state'] === 'missing'));
  t.regex(html, /No lds stage has finished yet/);
  t.is(figures(html).length, 0);
  t.false(existsSync(join(empty, 'store')), 'no store entry was created');
});

test('attrib report: a bad config or option is a usage error', async (t) => {
  const r = await attrib(['report', join(dirname(TABULAR), 'nope.yaml')]);
  t.is(r.code, 2);
  const bad = await attrib(['report', TABULAR, '--targets', 'x']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--targets must be an integer/);
});

test('attrib compare prints the metric differences of two sweep points', async (t) => {
  const { runs } = await fixtureRuns();
  const r = await attrib(['compare', 'report-tabular@count=1', POINT, '--runs', runs]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.regex(lines[0]!, /^A: report-tabular@count=1/);
  t.regex(lines[1]!, /^B: report-tabular@count=3/);
  // The sweep changed masks.count 1 -> 3: a difference of +2 models.
  t.truthy(lines.find((l) => /^masks\s+count\s+1\s+3\s+\+2 \(\+200%\)$/.test(l)), r.stdout);
  // Ground truth is the same store entry in both points.
  t.truthy(lines.find((l) => /^gt_models\s+\(same entry\)$/.test(l)));
  const a = runJson(runs, 'report-tabular@count=1').lds_trak!.metrics.lds as number;
  const b = runJson(runs, POINT).lds_trak!.metrics.lds as number;
  const ldsLine = lines[lines.findIndex((l) => l.startsWith('lds_trak'))]!;
  t.regex(ldsLine, /^lds_trak\s+lds\s+/);
  const cols = ldsLine.trim().split(/\s{2,}/);
  t.is(Number(cols[2]), Number(a.toPrecision(4)));
  t.is(Number(cols[3]), Number(b.toPrecision(4)));
  t.true(Math.abs(Number(cols[4]!.split(' ')[0]) - (b - a)) < 1e-3, ldsLine);
  // The same ground truth in both points: the paired difference with its interval.
  const paired = /^ {2}lds_trak: B − A = (-?\d\.\d{3}) \[(-?\d\.\d{3}), (-?\d\.\d{3})\]$/m.exec(r.stdout);
  t.truthy(paired, r.stdout);
  t.true(Math.abs(Number(paired![1]) - (b - a)) < 1e-3 && Number(paired![2]) <= Number(paired![1]) && Number(paired![1]) <= Number(paired![3]), paired![0]);

  // Run folders and run.json paths work too; --changed drops equal metrics.
  const byPath = await attrib(['compare', join(runs, 'report-tabular@count=1', 'run.json'), join(runs, POINT), '--changed']);
  t.is(byPath.code, 0, byPath.stderr);
  t.false(/^\s+nTrain\s/m.test(byPath.stdout));
  t.regex(byPath.stdout, /^lds_trak\s+lds\s/m);

  const missing = await attrib(['compare', 'report-tabular@count=9', POINT, '--runs', runs]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no run "report-tabular@count=9".*report-tabular@count=1/);
});

test('attrib compare --all lists shared entries, --metric filters', async (t) => {
  const { runs } = await fixtureRuns();
  const r = await attrib(['compare', 'report-tabular@count=1', POINT, '--runs', runs, '--all', '--metric', 'models']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^gt_models\s+models\s+16\s+16\s*$/m);
  t.regex(r.stdout, /^models\s+models\s+1\s+3\s+\+2/m);
  t.false(/ldsStd/.test(r.stdout));
});
