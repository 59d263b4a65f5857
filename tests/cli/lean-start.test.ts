/**
 * The commands that never compute start without the heavy packages: no TensorFlow.js
 * (tfjs-core, its backends, lib/tfjs-extras.js), no bullmq / ioredis (scale-out only),
 * no vega / resvg (reports only). Each loads on first use instead: initBackend,
 * the bullmq executor's first queued unit or `attrib worker`, `attrib report`. The CLI
 * runs with tests/cli/record-modules.mjs preloaded, which lists every module it loads.
 */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, ROOT, tmp } from '../helpers/rig.ts';

const RECORDER = pathToFileURL(join(ROOT, 'tests', 'cli', 'record-modules.mjs')).href;
const HEAVY = /node_modules\/(@tensorflow\/|bullmq\/|ioredis\/|vega[^/]*\/|@resvg\/)|\/lib\/tfjs-extras\.js$/;
const QUICKSTART = join(ROOT, 'configs', 'quickstart.yaml');
/** The executable's own module, compiled or not (bin/attrib.js only chooses which). */
const CLI_MODULE = /\/(dist\/bin\/attrib\.js|bin\/attrib\.ts)$/;

/** Every module a process loaded, as ESM URLs and CommonJS paths (the recorder's list). */
function recorded(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  rmSync(file);
  return [...new Set(lines)];
}

/** The heavy packages among them, one line per package. */
function heavy(modules: string[]): string[] {
  const packages = modules.filter((m) => HEAVY.test(m)).map((m) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(m)?.[1] ?? 'lib/tfjs-extras.js');
  return [...new Set(packages)].sort();
}

/** Runs `attrib ...args` with the recorder; returns what it loaded. */
async function modulesOf(args: string[], source: '0' | '1'): Promise<string[]> {
  const out = join(tmp('attrib-modules-'), 'modules.txt');
  const r = await cli(args, {
    env: {
      ATTRIB_SOURCE: source,
      ATTRIB_RECORD_MODULES: out,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${RECORDER}`.trim(),
    },
  });
  if (r.code !== 0) throw new Error(`attrib ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return recorded(out);
}

test('the recorder sees packages loaded through import and require', (t) => {
  const out = join(tmp('attrib-modules-'), 'modules.txt');
  const r = spawnSync(process.execPath, ['--import', RECORDER, '--input-type=module', '-e', "await import('@tensorflow/tfjs-core'); await import('ioredis');"], {
    cwd: ROOT,
    env: { ...process.env, ATTRIB_RECORD_MODULES: out },
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(heavy(recorded(out)), ['@tensorflow/tfjs-core', 'ioredis']);
});

const runs = tmp('attrib-lean-runs-');
const commands: [string, string[]][] = [
  ['--version', ['--version']],
  ['validate', ['validate', QUICKSTART]],
  ['plan', ['plan', QUICKSTART, '--runs', runs]],
  ['status', ['status', QUICKSTART, '--runs', runs]],
  ['dag', ['dag', QUICKSTART]],
  ['kinds', ['kinds']],
  ['kinds train', ['kinds', 'train']],
  ['schema', ['schema']],
];

// One CLI at a time: each is a Node process compiling TypeScript, on a shared machine.
for (const [name, args] of commands) {
  test.serial(`attrib ${name} loads no TensorFlow.js, bullmq, ioredis or vega (sources)`, async (t) => {
    const modules = await modulesOf(args, '1');
    t.true(modules.some((m) => CLI_MODULE.test(m)), 'the recorder saw the CLI start');
    t.deepEqual(heavy(modules), []);
  });
}

// The compiled code when dist/ is built and fresh (bin/entry.js falls back to the sources otherwise).
for (const [name, args] of commands.slice(0, 2)) {
  test.serial(`attrib ${name} loads no TensorFlow.js, bullmq, ioredis or vega (dist/ when built)`, async (t) => {
    const modules = await modulesOf(args, '0');
    t.log(modules.some((m) => m.includes('/dist/bin/attrib.js')) ? 'ran dist/' : 'dist/ absent or stale: ran the sources');
    t.deepEqual(heavy(modules), []);
  });
}

// Start-up time (issue 18): `attrib --version` is answered before the engine, the stage
// kinds and their packages are imported.
for (const source of ['1', '0'] as const) {
  test.serial(`attrib --version loads no zod, yaml, commander or stage kind (${source === '1' ? 'sources' : 'dist/ when built'})`, async (t) => {
    const modules = await modulesOf(['--version'], source);
    t.true(modules.some((m) => CLI_MODULE.test(m)), 'the recorder saw the CLI start');
    const loaded = modules.filter((m) => /node_modules\/(zod|yaml|commander)\/|\/stages\/|\/pipeline\/cli\./.test(m));
    t.deepEqual(loaded, []);
  });
}
