// The report pages in a real browser: Debian's chromium (installed by .ci/browser.sh),
// headless, no network, each page opened from file://. Every plot and image must be
// present with a nonzero size, and nothing may error in the console or fail to load.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { chromiumPath, fixtureRuns, read, reportPage, runJson, tags } from './helpers.ts';

const chromium = chromiumPath();
const maybe = chromium ? test : process.env.CI ? test : test.skip;
if (!chromium) console.warn('chromium not found (run .ci/browser.sh): the browser test is skipped');

async function launch(): Promise<{ browser: Browser; profile: string }> {
  if (!chromium) throw new Error('chromium not found: run .ci/browser.sh (or set CHROMIUM)');
  const profile = mkdtempSync(join(tmpdir(), 'attrib-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // puppeteer-core never downloads a browser; these keep chromium itself off the network.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--disable-default-apps',
      '--disable-extensions',
      `--user-data-dir=${profile}`,
    ],
  });
  return { browser, profile };
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface PageCheck {
  svgs: { cls: string; width: number; height: number }[];
  /** Per LDS-against-compute plot: the drawn box of every text label inside the plot area. */
  computeLabels: { id: string; labels: (Rect & { text: string })[] }[];
  /** The page's visible text, to look for raw markup. */
  text: string;
  imgs: { complete: boolean; naturalWidth: number; width: number; height: number }[];
  figures: { id: string; hasSvg: boolean }[];
}

async function open(browser: Browser, file: string) {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) problems.push(`network request: ${r.url()}`);
  });
  await page.setViewport({ width: 1280, height: 900 });
  const response = await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  // A string, not a function: tsx's transform adds helpers (__name) that the page lacks.
  const check = (await page.evaluate(`(() => {
    const box = (e) => e.getBoundingClientRect();
    return {
      svgs: [...document.querySelectorAll('svg')].filter((s) => !s.parentElement?.closest('svg'))
        .map((s) => ({ cls: s.getAttribute('class') ?? '', width: box(s).width, height: box(s).height })),
      imgs: [...document.querySelectorAll('img')]
        .map((i) => ({ complete: i.complete, naturalWidth: i.naturalWidth, width: box(i).width, height: box(i).height })),
      figures: [...document.querySelectorAll('figure.plot')].map((f) => ({ id: f.id, hasSvg: !!f.querySelector('svg') })),
      computeLabels: [...document.querySelectorAll('figure.plot')].filter((f) => /lds-vs-(models|seconds)$/.test(f.id)).map((f) => ({
        id: f.id,
        labels: [...f.querySelectorAll('g.mark-text.role-mark text')].filter((t) => t.textContent)
          .map((t) => { const r = box(t); return { text: t.textContent, x: r.x, y: r.y, width: r.width, height: r.height }; }),
      })),
      text: document.body.innerText,
    };
  })()`)) as PageCheck;
  await page.close();
  return { check, problems, ok: response?.ok() ?? true };
}

maybe('report pages render from file:// with every plot and image and no console error', async (t) => {
  const { runs } = await fixtureRuns();
  const pages = [
    { file: reportPage(runs, 'report-tabular@count=3'), plots: 6, images: 0 },
    { file: reportPage(runs, 'report-tabular'), plots: 3, images: 0 },
    { file: reportPage(runs, 'report-image'), plots: 4, images: 33 },
    { file: join(runs, 'store', runJson(runs, 'report-tabular@count=1').report!.hash, 'index.html'), plots: 4, images: 0 },
    // The TRAK paper's plot: 2 compute plots + 2 per lds stage (10).
    { file: reportPage(runs, 'trak-vs-datamodels'), plots: 22, images: 0 },
  ];
  const { browser, profile } = await launch();
  try {
    for (const p of pages) {
      const { check, problems, ok } = await open(browser, p.file);
      const what = p.file.slice(runs.length + 1);
      t.true(ok, what);
      t.deepEqual(problems, [], what);
      // The DAG plus one SVG per plot, each laid out with a size.
      t.is(check.figures.length, p.plots, what);
      t.true(check.figures.every((f) => f.hasSvg), what);
      t.is(check.svgs.length, p.plots + 1, what);
      t.is(check.svgs.filter((s) => s.cls === 'dag').length, 1, what);
      for (const s of check.svgs) t.true(s.width > 0 && s.height > 0, `${what}: svg ${s.cls} is ${s.width}×${s.height}`);
      // Every image decoded and shown.
      t.is(check.imgs.length, p.images, what);
      t.is(check.imgs.length, tags(read(p.file), 'img').length, what);
      for (const i of check.imgs) t.true(i.complete && i.naturalWidth > 0 && i.width > 0 && i.height > 0, `${what}: ${JSON.stringify(i)}`);
      // Labels on the compute plots as drawn: none overlaps another.
      for (const plot of check.computeLabels) {
        for (const [i, a] of plot.labels.entries()) {
          for (const b of plot.labels.slice(i + 1)) {
            const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
            t.false(overlap, `${what} ${plot.id}: "${a.text}" overlaps "${b.text}"`);
          }
        }
      }
      t.false(/_\{|\\[a-z]/.test(check.text), `${what}: raw markup in the page text`);
    }
    // The curve page: counts beside the points, the method names of issue 17, the reach table.
    const curve = await open(browser, reportPage(runs, 'trak-vs-datamodels'));
    const models = curve.check.computeLabels.find((p) => p.id === 'lds-vs-models')!;
    t.true(models.labels.some((l) => /^[SN]=\d+$/.test(l.text)), JSON.stringify(models.labels.map((l) => l.text)));
    for (const name of ['TRAK k=16 S=4', 'Datamodels N=30', 'Grad-Dot', 'Influence']) t.true(curve.check.text.includes(name), name);
    t.regex(curve.check.text, /Where TRAK reaches datamodels/);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
