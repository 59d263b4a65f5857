/**
 * The store at scale (issue 19): a 20-point sweep stores each shared upstream artifact
 * once (checked by walking the store's bytes on disk), and gc on a store of ~2,000
 * synthetic entries removes exactly the unreferenced ones, keeping the referenced ones
 * and their upstream. bench/store.ts times gc on 10,000 entries.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { isStageHash } from '../../pipeline/hash.ts';
import type { StageHash } from '../../pipeline/registry.ts';
import { buildSyntheticStore } from '../helpers/synthetic-store.ts';
import { attrib, readJson, runJson, tmp, writeConfig } from './helpers.ts';

/** Every file under `dir` (relative path -> bytes). */
function files(dir: string, rel = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) for (const [p, n] of files(dir, path)) out.set(p, n);
    else out.set(path, statSync(join(dir, path)).size);
  }
  return out;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('a 20-point sweep over a downstream param stores each shared upstream artifact once', async (t) => {
  const dir = tmp();
  const runs = join(dir, 'runs');
  const config = writeConfig(
    dir,
    `name: wide
plugins: [PLUGIN]
stages:
  data:    {kind: numbers, params: {n: 5}}
  squares: {kind: square, inputs: {data: data}}
  total:   {kind: total, inputs: {squares: squares}}
`,
  );
  const scales = Array.from({ length: 20 }, (_, i) => i + 1);
  const ran = await attrib(['run', config, '--runs', runs, '--jobs', '2', '--sweep', `stages.total.params.scale=${scales.join(',')}`]);
  t.is(ran.code, 0, ran.stderr);

  const points = readdirSync(runs).filter((n) => n.startsWith('wide@'));
  t.is(points.length, 20);
  const records = points.map((p) => runJson(runs, p));
  const hashes = (stage: string) => new Set(records.map((r) => r[stage]!.hash));
  t.is(hashes('data').size, 1, 'one data entry for all points');
  t.is(hashes('squares').size, 1, 'one squares entry for all points');
  t.is(hashes('total').size, 20, 'one total entry per point');
  const [data] = hashes('data');
  const [squares] = hashes('squares');

  // The store holds exactly these 22 entries, and nothing else.
  const store = join(runs, 'store');
  const entries = readdirSync(store);
  t.true(entries.every(isStageHash), entries.join(', '));
  t.deepEqual(entries.sort(), [data!, squares!, ...hashes('total')].sort());
  const byKind = new Map<string, string[]>();
  for (const h of entries) {
    const kind = readJson<{ kind: string }>(join(store, h, 'manifest.json')).kind;
    byKind.set(kind, [...(byKind.get(kind) ?? []), h]);
  }
  t.deepEqual(byKind.get('numbers'), [data]);
  t.deepEqual(byKind.get('square'), [squares]);
  t.is(byKind.get('total')!.length, 20);

  // By bytes: the store is the shared entries once plus the 20 points' own entries, and a
  // point's entry holds only its own artifact (total.json) beside the bookkeeping.
  const shared = sum(files(join(store, data!))) + sum(files(join(store, squares!)));
  const perPoint = [...hashes('total')].map((h) => files(join(store, h)));
  for (const f of perPoint) t.deepEqual([...f.keys()].sort(), ['manifest.json', 'stage.json', 'total.json']);
  t.is(sum(files(store)), shared + perPoint.reduce((a, f) => a + sum(f), 0));
  // Each upstream artifact's bytes occur exactly once in the whole store.
  const everywhere = [...files(store).keys()].filter((f) => !/(^|\/)(manifest|stage|unit)\.json$/.test(f)).map((f) => sha(join(store, f)));
  for (const f of ['numbers.json', 'squares.json']) {
    const h = f === 'numbers.json' ? data! : squares!;
    t.is(everywhere.filter((d) => d === sha(join(store, h, f))).length, 1, `${f} stored once`);
  }
  // The upstream's unit folders exist once: 5 units of squares, no copies.
  t.deepEqual(readdirSync(join(store, squares!, 'units')).sort(), ['0', '1', '2', '3', '4']);
  t.false(existsSync(join(runs, 'wide')), 'no un-swept experiment folder');
});

test('gc on ~2,000 synthetic entries removes exactly the unreferenced ones, keeping referenced ones and their upstream', async (t) => {
  const runs = join(tmp(), 'runs');
  const built = buildSyntheticStore(runs, { roots: 20, midsPerRoot: 9, leavesPerMid: 10, referenceEvery: 50, artifactBytes: 64 });
  t.is(built.entries.length, 2000);
  const all = new Set(readdirSync(join(runs, 'store')));
  t.is(all.size, 2000);
  // What gc must keep, from the builder's own record of the graph: each referenced
  // entry and everything upstream of it.
  const keep = new Set<string>();
  const visit = (h: string) => {
    if (keep.has(h)) return;
    keep.add(h);
    for (const u of built.upstream.get(h as StageHash) ?? []) visit(u);
  };
  for (const h of built.referenced) visit(h);
  t.true(keep.size > 0 && keep.size < 2000);
  // Some referenced only by a run record (history), some by a run.json: both kinds count.
  t.true(built.referencedByHistoryOnly.length > 0 && built.referencedByRunJson.length > 0);
  const expectedRemoved = [...all].filter((h) => !keep.has(h)).sort();

  const dry = await attrib(['gc', '--runs', runs, '--dry-run']);
  t.is(dry.code, 0, dry.stderr);
  const wouldRemove = [...dry.stdout.matchAll(/^would remove store\/([0-9a-f]{64})$/gm)].map((m) => m[1]!).sort();
  t.deepEqual(wouldRemove, expectedRemoved);
  t.regex(dry.stdout, new RegExp(`^would remove ${expectedRemoved.length} entries, kept ${keep.size}$`, 'm'));
  t.is(readdirSync(join(runs, 'store')).length, 2000, 'a dry run removes nothing');

  const gc = await attrib(['gc', '--runs', runs]);
  t.is(gc.code, 0, gc.stderr);
  t.regex(gc.stdout, new RegExp(`^removed ${expectedRemoved.length} entries, kept ${keep.size}$`, 'm'));
  t.deepEqual(readdirSync(join(runs, 'store')).sort(), [...keep].sort());
  for (const h of keep) t.true(existsSync(join(runs, 'store', h, 'manifest.json')));
  // What is left verifies: no kept entry lost an upstream it was computed from.
  const verify = await attrib(['verify', '--runs', runs]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  t.regex((await attrib(['gc', '--runs', runs])).stdout, /^removed 0 entries/m);
});
