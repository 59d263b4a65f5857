/**
 * Shared by the report tests: tiny real runs of the fixture configs (the actual stage
 * kinds through the CLI), made once per `ava` invocation. Test files run in child
 * processes of one ava process, so they share a runs folder keyed by that parent's pid;
 * a lock makes one file run the configs while the others wait.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { processAlive } from '../../lib/io/atomic.ts';
import { attrib, ROOT, type CliResult } from '../engine/helpers.ts';

export { attrib, ROOT };

export const FIXTURES = join(ROOT, 'tests', 'fixtures', 'report');
export const TABULAR = join(FIXTURES, 'tabular.yaml');
export const IMAGE = join(FIXTURES, 'image.yaml');
/** The shipped TRAK-against-datamodels config, shrunk by --set to seconds of work (synthetic data). */
export const CURVE = join(ROOT, 'configs', 'trak-vs-datamodels.yaml');
export const CURVE_SETS = [
  'stages.data.params.train=100',
  'stages.data.params.test=12',
  'stages.data.params.source={kind: synthetic, dim: 8, classes: 4}',
  'stages.gt_masks.params.count=10',
  'stages.dm_masks.params.count=30',
  'stages.dm100.params.models=6',
  'stages.dm300.params.models=12',
  'stages.dm1000.params.models=20',
  'stages.dm3000.params.models=30',
  'stages.trak_masks.params.count=4',
  'stages.trak_features.params.projector.dim=16',
  'stages.f1_kron2048.params.projector.dim=16',
  'stages.trak1.params.models=1',
  'stages.trak3.params.models=2',
  'stages.trak10.params.models=3',
  'stages.trak30.params.models=4',
].flatMap((s) => ['--set', s]);

export interface FixtureRuns {
  runs: string;
  /** Output of `attrib report` for each config. */
  reports: { tabular: CliResult; image: CliResult; curve: CliResult };
}

function check(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs both fixture configs (once per ava run) and writes their reports. */
export async function fixtureRuns(): Promise<FixtureRuns> {
  // Folders of earlier ava runs (their ava process is gone) are leftovers.
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^attrib-report-tests-(\d+)$/.exec(name)?.[1]);
    if (pid && pid !== process.ppid && !processAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const runs = join(tmpdir(), `attrib-report-tests-${process.ppid}`);
  mkdirSync(runs, { recursive: true });
  const release = await lockfile.lock(runs, { lockfilePath: join(runs, '.fixture.lock'), retries: { retries: 600, minTimeout: 500, maxTimeout: 500 }, stale: 20_000, update: 5_000 });
  try {
    const done = join(runs, 'fixtures.json');
    if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as FixtureRuns;
    check(await attrib(['run', TABULAR, '--runs', runs, '--jobs', '2']), 'attrib run tabular');
    check(await attrib(['run', IMAGE, '--runs', runs, '--jobs', '2']), 'attrib run image');
    check(await attrib(['run', CURVE, '--runs', runs, '--jobs', '2', ...CURVE_SETS]), 'attrib run trak-vs-datamodels');
    const reports = {
      tabular: check(await attrib(['report', TABULAR, '--runs', runs]), 'attrib report tabular'),
      image: check(await attrib(['report', IMAGE, '--runs', runs]), 'attrib report image'),
      curve: check(await attrib(['report', CURVE, '--runs', runs, '--no-png', ...CURVE_SETS]), 'attrib report trak-vs-datamodels'),
    };
    const result: FixtureRuns = { runs, reports };
    writeFileSync(done, JSON.stringify(result));
    return result;
  } finally {
    await release();
  }
}

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}

export function reportPage(runs: string, experiment: string): string {
  return join(runs, experiment, 'report', 'index.html');
}

export function runJson(runs: string, experiment: string): Record<string, { hash: string; status: string; metrics: Record<string, unknown> }> {
  return JSON.parse(read(join(runs, experiment, 'run.json')));
}

/** Every store entry with its manifest's mtime (-1 without one): to show a command ran nothing. */
export function storeSnapshot(runs: string): Record<string, number> {
  const out: Record<string, number> = {};
  const store = join(runs, 'store');
  for (const h of readdirSync(store)) {
    const m = join(store, h, 'manifest.json');
    out[h] = existsSync(m) ? statSync(m).mtimeMs : -1;
  }
  return out;
}

/** Where Debian's chromium is (installed by .ci/browser.sh), or undefined. */
export function chromiumPath(): string | undefined {
  for (const c of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (c && existsSync(c)) return c;
  return undefined;
}

/** Attributes of every match of a tag in an HTML string (a light parser for our own pages). */
export function tags(html: string, tag: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    out.push(attrs);
  }
  return out;
}
