/**
 * Time to first scores in the quickstart (issue 17, "critical path first"): runs
 * configs/quickstart.yaml from an empty store and prints, for every stage, when it
 * started and finished (seconds since the run began), then the headline: when `scores`
 * (the TRAK scores) and `lds` were done. Run it on two commits to compare schedulers;
 * the machine must be otherwise idle for the figures to mean anything (it prints the
 * load average).
 *
 *     node --import tsx bench/quickstart.ts [--jobs N] [--set PATH=VALUE ...]
 *
 * `--set` shrinks the run to check that the script works, e.g.
 *   --set stages.lds_masks.params.count=4 --set stages.masks.params.count=4
 * Uses only the public API (runConfig and its events), so it runs unchanged on older commits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runConfig } from '../index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { jobs: { type: 'string' }, set: { type: 'string', multiple: true }, keep: { type: 'boolean' } } });
const jobs = values.jobs ? Number(values.jobs) : availableParallelism();
const runsDir = mkdtempSync(join(tmpdir(), 'attrib-bench-quickstart-'));

const times = new Map<string, { started?: number; finished?: number }>();
const t0 = Date.now();
const at = () => (Date.now() - t0) / 1000;
console.log(`quickstart, ${jobs} jobs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, runs in ${runsDir}`);
const result = await runConfig(join(ROOT, 'configs', 'quickstart.yaml'), {
  runsDir,
  jobs,
  set: values.set ?? [],
  onEvent: (e) => {
    const row = times.get(e.stage) ?? {};
    if (e.type === 'started') row.started = at();
    if (e.type === 'finished' || e.type === 'cached') row.finished = at();
    if (e.type === 'failed') console.error(`${e.stage} failed: ${e.error}`);
    times.set(e.stage, row);
  },
});
if (!result.ok) {
  console.error(result.errors.map((e) => `${e.file}: ${e.message}`).join('\n'));
  process.exit(2);
}

const fmt = (s: number | undefined) => (s === undefined ? '-' : s.toFixed(1)).padStart(9);
console.log(`\n${'stage'.padEnd(12)}${'started'.padStart(9)}${'finished'.padStart(9)}  (seconds from start)`);
for (const [stage, row] of [...times].sort((a, b) => (a[1].finished ?? Infinity) - (b[1].finished ?? Infinity))) {
  console.log(`${stage.padEnd(12)}${fmt(row.started)}${fmt(row.finished)}`);
}
console.log(`\ntime to first scores: ${fmt(times.get('scores')?.finished).trim()} s; to LDS: ${fmt(times.get('lds')?.finished).trim()} s; load average now ${loadavg()[0]!.toFixed(2)}`);
if (!values.keep) rmSync(runsDir, { recursive: true, force: true });
process.exit(result.value.ok ? 0 : 1);
