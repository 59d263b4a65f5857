/**
 * Shared by the distributed executors' tests: which services are there, processes
 * with live output, and byte-for-byte comparison of two stores.
 *
 * Services come from .ci/services.sh, which .ci/run calls: ATTRIB_TEST_REDIS_URL (a
 * redis-server on loopback) and ATTRIB_TEST_SLURM_BIN (wrappers of sbatch, squeue, ...
 * for a single-node SLURM). Without them a test is skipped locally, with a title that
 * says what to start, and fails in CI (CI=true), where a missing service is a bug.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ROOT, startCli, type CliProcess } from '../helpers/rig.ts';

// The rig's waits and CLI, under the names these tests use.
export { finished, waitUntil, type CliProcess as Proc } from '../helpers/rig.ts';

/** Starts the CLI with extra environment variables (the rig's startCli). */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  return startCli(args, { env });
}

export const FIXTURES = join(ROOT, 'tests', 'fixtures', 'distributed');
export const PLUGIN = join(FIXTURES, 'dist-plugin.ts');
export const CONFIG = join(FIXTURES, 'dist.yaml');

export const REDIS_URL = process.env.ATTRIB_TEST_REDIS_URL || undefined;
export const SLURM_BIN = process.env.ATTRIB_TEST_SLURM_BIN || undefined;

type Body = (t: ExecutionContext) => Promise<void>;

/** `test.serial` when the service is there; a skip (locally) or a failure (CI) when not. */
export function serviceTest(available: boolean, what: string): (title: string, body: Body) => void {
  if (available) return (title, body) => test.serial(title, body);
  if (process.env.CI) {
    return (title) => test(title, (t) => t.fail(`${what} is not available: in CI, .ci/services.sh must start it (see its log above the tests)`));
  }
  return (title, body) => test.skip(`${title} [skipped: needs ${what}; run \`bash .ci/services.sh\` and export what it prints]`, body);
}

export const redisTest = serviceTest(!!REDIS_URL, 'redis (ATTRIB_TEST_REDIS_URL)');
export const slurmTest = serviceTest(!!SLURM_BIN, 'SLURM (ATTRIB_TEST_SLURM_BIN)');

/** PATH with the SLURM wrappers first. */
export function slurmPath(): string {
  return [SLURM_BIN, process.env.PATH].filter(Boolean).join(delimiter);
}

/** Lines the dist-plugin wrote into ATTRIB_DIST_LOG: {what: start|end, hash8, index, pid}. */
export function unitLog(path: string): { what: string; hash8: string; index: number; pid: number }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [what, hash8, index, pid] = l.split(' ');
      return { what: what!, hash8: hash8!, index: Number(index), pid: Number(pid) };
    });
}

/** Timings: `started`, `finished`, and anything called `...seconds` / `...Seconds` (top level or in metrics). */
const timing = (key: string) => key === 'started' || key === 'finished' || /seconds$/i.test(key);
const untimed = (o: Record<string, unknown> | undefined) => {
  for (const k of Object.keys(o ?? {})) if (timing(k)) delete o![k];
};

/**
 * Every file of every store entry (relative to runs/store), as bytes. Manifests and
 * unit.json files lose their timing fields (started, finished, seconds, metrics.seconds, ...); engine bookkeeping
 * that is not an artifact (the entry lock, staging and temporary names) is left out.
 */
export function storeFiles(runs: string): Map<string, Buffer> {
  const root = join(runs, 'store');
  const files = new Map<string, Buffer>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === '.lock' || name.startsWith('.staging-') || name.includes('.tmp-')) continue;
      const path = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(path).isDirectory()) walk(path, r);
      else if ((name === 'manifest.json' && rel.split('/').length === 1) || name === 'unit.json') {
        const m = JSON.parse(readFileSync(path, 'utf8'));
        untimed(m);
        untimed(m.metrics);
        // A manifest lists each file's size; a unit.json's size varies with its seconds.
        for (const f of Object.keys(m.files ?? {})) if (f.endsWith('unit.json')) delete m.files[f];
        for (const f of Object.keys(m.digests ?? {})) if (f.endsWith('unit.json')) delete m.digests[f];
        delete m.manifestDigest; // a digest of the whole manifest, timings included
        files.set(r, Buffer.from(JSON.stringify(m, null, 2)));
      } else files.set(r, readFileSync(path));
    }
  };
  walk(root, '');
  return files;
}

/** Asserts that two runs folders hold the same store, byte for byte. */
export function sameStore(t: ExecutionContext, a: string, b: string): void {
  const fa = storeFiles(a);
  const fb = storeFiles(b);
  t.deepEqual([...fb.keys()], [...fa.keys()], 'the same entries and files');
  let differing = 0;
  for (const [path, bytes] of fa) {
    const other = fb.get(path);
    if (!other || !bytes.equals(other)) {
      differing++;
      t.fail(`${path} differs`);
    }
  }
  t.is(differing, 0);
  t.true(fa.size > 10, `compared ${fa.size} files`);
}

/** Unit folders of an entry: their names, and leftovers (staging or temporary names) in the entry. */
export function unitFolders(runs: string, hash: string): { units: string[]; leftovers: string[] } {
  const dir = join(runs, 'store', hash);
  const units = existsSync(join(dir, 'units')) ? readdirSync(join(dir, 'units')).sort((x, y) => Number(x) - Number(y)) : [];
  const leftovers = readdirSync(dir).filter((n) => n.startsWith('.staging-') || n.includes('.tmp-'));
  return { units, leftovers };
}

export function runJson(runs: string, experiment = 'dist'): Record<string, { hash: string; status: string; error?: string }> {
  return JSON.parse(readFileSync(join(runs, experiment, 'run.json'), 'utf8'));
}
