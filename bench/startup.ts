/**
 * Start-up time of the `attrib` executable: `attrib --version` and `attrib validate
 * configs/quickstart.yaml`, each run RUNS times as a fresh process, from the compiled
 * code in dist/ and from the TypeScript sources through tsx (ATTRIB_SOURCE=1). Prints
 * the median wall-clock seconds of each, a markdown table for BENCHMARKS.md. Goal: ≤ 0.3 s
 * compiled (issue 18). Beside it, on Linux, the median CPU seconds (user + system) the
 * process used: less sensitive to other work on the machine than the wall clock.
 *
 *     npm run build && npm run bench:startup
 *
 * The machine is shared with other work: check the load average it prints and rerun
 * when it is low (a loaded machine easily triples these figures).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'attrib.js');
const RUNS = 5;
const COMMANDS = [['--version'], ['validate', 'configs/quickstart.yaml']];
const MODES = { compiled: { ATTRIB_SOURCE: '0' }, tsx: { ATTRIB_SOURCE: '1' } } as const;

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU seconds (user + system) of this process's finished children so far (Linux: /proc), or undefined. */
function childrenCpu(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND; // fields 16 and 17: cutime, cstime
}

/** Wall-clock and CPU seconds of one run; a failing command stops the benchmark (its timing would mean nothing). */
function timeOnce(args: string[], env: Record<string, string>): { wall: number; cpu?: number } {
  const cpu0 = childrenCpu();
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu1 = childrenCpu();
  if (r.status !== 0) throw new Error(`attrib ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
  return { wall, cpu: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

if (!existsSync(join(ROOT, 'dist', 'build.json'))) {
  console.error('bench:startup: no dist/ to time; run `npm run build` first');
  process.exit(2);
}
// bin/attrib.js quietly falls back to tsx when dist/ is older than the sources: that would time tsx twice.
const probe = spawnSync(process.execPath, ['--input-type=module', '-e', `import { entry } from ${JSON.stringify(new URL('../bin/entry.js', import.meta.url).href)}; console.log(await entry('attrib'));`], { env: { ...process.env, ATTRIB_SOURCE: '0' }, encoding: 'utf8' });
if (!probe.stdout.includes('/dist/bin/')) {
  console.error('bench:startup: dist/ is older than the sources; run `npm run build` first');
  process.exit(2);
}

const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`${cpus().length} cores, Node ${process.version}, ${RUNS} runs each; load average at start ${load}\n`);
console.log('| command | compiled (dist/) | tsx (sources) |');
console.log('|---|---|---|');
for (const args of COMMANDS) {
  const cells = Object.values(MODES).map((env) => {
    timeOnce(args, env); // warm the file cache: the first run of a cold machine reads every module from disk
    const times = Array.from({ length: RUNS }, () => timeOnce(args, env));
    const cpu = times.every((t) => t.cpu !== undefined) ? ` (cpu ${median(times.map((t) => t.cpu!)).toFixed(2)} s)` : '';
    return `${median(times.map((t) => t.wall)).toFixed(2)} s${cpu}`;
  });
  console.log(`| attrib ${args.join(' ')} | ${cells.join(' | ')} |`);
}
console.log(`\nload average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
