/**
 * The store at scale (issue 19): builds a synthetic store of 10,000 entries under a
 * temporary runs folder, laid out as a run lays one out (tests/helpers/synthetic-store.ts:
 * written through the store's own functions; 100 data entries, 900 fits with 2 units
 * each, 9,000 scores; 1 score in 50 referenced by a run.json, 1 in 50 by a run record),
 * then times `attrib gc --dry-run` and `attrib gc` as CLI subprocesses (start-up
 * included) and prints entries, seconds and bytes freed. Goal: seconds, not minutes.
 *
 *     npm run bench:store [-- ENTRIES_SCALE]     (scale 1 = 10,000 entries)
 *
 * The machine is shared with other work: the load average is printed beside the figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSyntheticStore } from '../tests/helpers/synthetic-store.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'attrib.js');
const scale = Number(process.argv[2] ?? 1);
if (!(scale > 0)) {
  console.error(`bench:store: the scale must be a positive number, got "${process.argv[2]}"`);
  process.exit(2);
}

/** Bytes of every file under `dir`. */
function bytes(dir: string): number {
  let n = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, d.name);
    n += d.isDirectory() ? bytes(path) : statSync(path).size;
  }
  return n;
}

function gc(runs: string, extra: string[]): { seconds: number; last: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, 'gc', '--runs', runs, ...extra], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`attrib gc ${extra.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
  return { seconds, last: r.stdout.trim().split('\n').at(-1) ?? '' };
}

const runs = join(mkdtempSync(join(tmpdir(), 'attrib-bench-store-')), 'runs');
try {
  const roots = Math.round(100 * scale);
  const t0 = Date.now();
  const built = buildSyntheticStore(runs, {
    roots,
    midsPerRoot: 9,
    leavesPerMid: 10,
    referenceEvery: 50,
    artifactBytes: 1024,
    onEntry: (done, total) => {
      if (done % 1000 === 0) process.stderr.write(`  built ${done}/${total} entries (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    },
  });
  const store = join(runs, 'store');
  const before = bytes(store);
  console.log(`store: ${built.entries.length} entries, ${(before / 2 ** 20).toFixed(1)} MiB, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const dry = gc(runs, ['--dry-run']);
  console.log(`attrib gc --dry-run  ${dry.seconds.toFixed(2)} s   ${dry.last}`);
  const real = gc(runs, []);
  const after = bytes(store);
  console.log(`attrib gc            ${real.seconds.toFixed(2)} s   ${real.last}; freed ${((before - after) / 2 ** 20).toFixed(1)} MiB (${before - after} bytes)`);
  const again = gc(runs, []);
  console.log(`attrib gc (again)    ${again.seconds.toFixed(2)} s   ${again.last}`);
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  rmSync(join(runs, '..'), { recursive: true, force: true });
}
