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

interface PageCheck {
  svgs: { cls: string; width: number; height: number }[];
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
    }
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
