/**
 * `attrib run` end to end through the real CLI: caching, invalidation, failures that
 * block only their dependents, corrupt store entries, resume after kill -9, two runs at
 * once, gc, `attrib unit`, and seeds that do not depend on parallelism.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { deriveSeed } from '../../pipeline/hash.ts';
import type { StageHash } from '../../pipeline/registry.ts';
import { Gate, GATE_PLUGIN, waitUntil } from '../helpers/rig.ts';
import { attrib, entry, executions, finishedUnits, FIXTURES, PLUGIN, readJson, runJson, start, tmp, writeConfig } from './helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');

function setup() {
  const runs = tmp();
  const log = join(runs, 'toy.log');
  return { runs, log, env: { ATTRIB_TOY_LOG: log } };
}

/** Files a killed or finished run must not leave behind as if they were whole. */
function leftovers(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => /\.staging-|\.tmp-/.test(p));
}

test('run, rerun from cache, and a downstream change re-runs only downstream', async (t) => {
  const { runs, log, env } = setup();
  // Plain progress lines (no TTY), here without the usual few seconds between them.
  const first = await attrib(['run', TOY, '--runs', runs, '--jobs', '2'], { env: { ...env, ATTRIB_PROGRESS_MS: '0' } });
  t.is(first.code, 0, first.stderr);
  const run1 = runJson(runs, 'toy');
  t.deepEqual(Object.values(run1).map((e) => e.status), ['ran', 'ran', 'ran', 'ran']);
  t.is(run1.total!.metrics.total, 55);
  t.is(run1.squares!.metrics.units, 6);
  t.is(typeof run1.squares!.metrics.seconds, 'number');
  t.is(executions(log).length, 6);
  t.regex(first.stdout, /^squares\s+ran\s+[\d.]+\s+sum=55 units=6$/m);
  t.regex(first.stderr, /^\[data\] wrote 6 numbers$/m, 'ctx.log lines carry the stage name');
  t.regex(first.stderr, /^\[squares\] started 6 units$/m);
  t.regex(first.stderr, /^\[squares\] [1-5]\/6 units, \d\d:\d\d elapsed ETA \d\d:\d\d$/m);
  t.regex(first.stderr, /^\[squares\] ran in [\d.]+s: sum=55 units=6$/m);

  const manifest = readJson(join(entry(runs, run1.squares!.hash), 'manifest.json'));
  t.like(manifest, { kind: 'square', version: '1', hash: run1.squares!.hash, output: 'squares', seed: 7, units: 6, backend: 'auto', attrib: '0.1.0', node: process.version });
  t.deepEqual(manifest.inputs, { data: run1.data!.hash });
  t.deepEqual(manifest.info, { inWorker: true }, 'units ran in worker threads');
  t.truthy(manifest.files['units/5/value.json']);
  const stage = readJson(join(entry(runs, run1.squares!.hash), 'stage.json'));
  t.like(stage, { kind: 'square', version: '1', seed: 7, backend: 'auto', units: 6 });
  t.true(stage.plugins[0].endsWith('toy-plugin.ts'));

  const second = await attrib(['run', TOY, '--runs', runs], { env });
  t.is(second.code, 0, second.stderr);
  t.deepEqual(Object.values(runJson(runs, 'toy')).map((e) => e.status), ['cached', 'cached', 'cached', 'cached']);
  t.is(executions(log).length, 6, 'nothing re-ran');

  const third = await attrib(['run', TOY, '--runs', runs, '--set', 'stages.total.params.scale=2'], { env });
  t.is(third.code, 0, third.stderr);
  const run3 = runJson(runs, 'toy');
  t.deepEqual(Object.fromEntries(Object.entries(run3).map(([k, e]) => [k, e.status])), { data: 'cached', squares: 'cached', total: 'ran', other: 'cached' });
  t.is(run3.total!.metrics.total, 110);
  t.is(executions(log).length, 6, 'upstream units did not run again');
  t.regex(third.stderr, /\[total\] started \(params\.scale: 1 -> 2\)/, 'says why it re-runs');

  const forced = await attrib(['run', TOY, '--runs', runs, '--force', 'squares'], { env });
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(Object.fromEntries(Object.entries(runJson(runs, 'toy')).map(([k, e]) => [k, e.status])), { data: 'cached', squares: 'ran', total: 'ran', other: 'cached' });
  t.is(executions(log).length, 12);
  t.deepEqual(leftovers(runs), []);

  const status = await attrib(['status', TOY, '--runs', runs]);
  t.is(status.code, 0);
  t.regex(status.stdout, /^squares\s+cached\s+[\d.]+\s+sum=55 units=6$/m);
  const dag = await attrib(['dag', TOY]);
  t.regex(dag.stdout, /^flowchart LR$/m);
  t.is((dag.stdout.match(/-->/g) ?? []).length, 2);
});

test('a failing unit fails its stage, blocks only its dependents, exit 1', async (t) => {
  const { runs, env } = setup();
  const config = writeConfig(
    tmp(),
    `name: broken
plugins: [PLUGIN]
stages:
  data:    {kind: numbers, params: {n: 4}}
  squares: {kind: square, inputs: {data: data}, params: {failAt: 2}}
  total:   {kind: total, inputs: {squares: squares}}
  crashy:  {kind: square, inputs: {data: data}, params: {crashAt: 1}}
  fine:    {kind: square, inputs: {data: data}}
  after:   {kind: total, inputs: {squares: fine}}
`,
  );
  const r = await attrib(['run', config, '--runs', runs, '--jobs', '2'], { env });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^\[squares\] FAILED: unit 2 failed: toy failure at unit 2$/m);
  t.regex(r.stderr, /^\[crashy\] FAILED: unit 1 failed: worker thread exited with code 3$/m);
  t.regex(r.stderr, /^\[total\] blocked: squares failed$/m);
  t.false(/^\s+at /m.test(r.stderr), 'no stack trace');
  const run = runJson(runs, 'broken');
  t.deepEqual(Object.fromEntries(Object.entries(run).map(([k, e]) => [k, e.status])), {
    data: 'ran',
    squares: 'failed',
    total: 'blocked',
    crashy: 'failed',
    fine: 'ran',
    after: 'ran',
  });
  t.is(run.squares!.error, 'unit 2 failed: toy failure at unit 2');
  t.is(run.after!.metrics.total, 14);
  t.false(existsSync(join(entry(runs, run.squares!.hash), 'manifest.json')));
  t.regex(r.stdout, /^squares\s+failed\s+[\d.]+\s+error: unit 2 failed: toy failure at unit 2$/m);
  t.deepEqual(leftovers(runs), []);
});

test('a corrupt manifest or a damaged artifact is reported and only that stage re-runs', async (t) => {
  const { runs, log, env } = setup();
  t.is((await attrib(['run', TOY, '--runs', runs], { env })).code, 0);
  const run = runJson(runs, 'toy');
  writeFileSync(join(entry(runs, run.squares!.hash), 'manifest.json'), '{"kind": "square", trunc');
  writeFileSync(join(entry(runs, run.other!.hash), 'numbers.json'), '[');

  const plan = await attrib(['plan', TOY, '--runs', runs]);
  t.regex(plan.stdout, /^squares .* corrupt: manifest\.json does not parse/m);
  t.regex(plan.stdout, /^other .* corrupt: artifact numbers\.json has 1 bytes, the manifest says 10/m);

  const r = await attrib(['run', TOY, '--runs', runs], { env });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /\[squares\] warning: store entry [0-9a-f]{12}: manifest\.json does not parse .*; re-running the stage/);
  t.regex(r.stderr, /\[other\] warning: store entry [0-9a-f]{12}: artifact numbers\.json has 1 bytes, the manifest says 10; re-running the stage/);
  t.deepEqual(Object.fromEntries(Object.entries(runJson(runs, 'toy')).map(([k, e]) => [k, e.status])), { data: 'cached', squares: 'ran', total: 'cached', other: 'ran' });
  t.is(executions(log).length, 6, 'the finished units were intact: only combine re-ran');
  t.deepEqual(JSON.parse(readFileSync(join(entry(runs, run.other!.hash), 'numbers.json'), 'utf8')), [10, 11, 12]);
});

test('kill -9 in the middle of a stage with units: the rerun executes only the missing units', async (t) => {
  const { runs, log, env } = setup();
  const gate = new Gate();
  const config = writeConfig(
    tmp(),
    `name: killed
plugins: [PLUGIN, ${GATE_PLUGIN}]
stages:
  data:    {kind: numbers, params: {n: 8}}
  squares: {kind: gated-square, inputs: {data: data}}
  total:   {kind: total, inputs: {squares: squares}}
`,
  );
  // The gate decides what finishes: one unit does; two more are running at the kill.
  const first = start(['run', config, '--runs', runs, '--jobs', '2'], { env: { ...env, ...gate.env } });
  const [done, running] = await gate.arrived(2);
  const { hash, pid } = done!;
  gate.open(done!.index);
  await waitUntil(`unit ${done!.index} to finish`, () => finishedUnits(runs, hash) === 1);
  const inFlight = (await gate.arrived(3, pid)).slice(1);
  first.child.kill('SIGKILL');
  const killed = await first.done;
  t.is(killed.signal, 'SIGKILL', 'the run was killed, it did not finish');
  t.is(inFlight.length, 2, 'killed mid-stage: two units were running');
  t.true(inFlight.some((a) => a.index === running!.index), 'the unit that started beside the finished one was still running');

  const finished = finishedUnits(runs, hash);
  t.is(finished, 1, 'only the opened unit finished');
  t.true(existsSync(join(entry(runs, hash), 'units', String(done!.index), 'unit.json')));
  t.false(existsSync(join(entry(runs, hash), 'manifest.json')), 'no manifest: the stage does not look whole');
  const plan = await attrib(['plan', config, '--runs', runs]);
  t.regex(plan.stdout, new RegExp(`^squares .* partial \\(${finished} of 8 units\\)`, 'm'));

  gate.openAll();
  const before = executions(log).length;
  const r = await attrib(['run', config, '--runs', runs, '--jobs', '2'], { env: { ...env, ...gate.env } });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`\\[squares\\] started 8 units \\(${finished} done earlier, resuming\\)`));
  const rerun = gate.arrivals().filter((a) => a.pid !== pid).map((a) => a.index);
  const others = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => i !== done!.index);
  t.deepEqual([...rerun].sort((a, b) => a - b), others, `the rerun skipped the finished unit ${done!.index} and ran each other unit once`);
  t.is(executions(log).length - before, 8 - finished, 'the toy log agrees');
  t.is(runJson(runs, 'killed').total!.metrics.total, 140);
  t.deepEqual(leftovers(runs), [], 'leftovers of the killed run were removed');
});

test('two concurrent runs of the same config: every unit runs once, nothing is corrupted', async (t) => {
  const { runs, log, env } = setup();
  const gate = new Gate();
  const config = writeConfig(
    tmp(),
    `name: twice
plugins: [PLUGIN, ${GATE_PLUGIN}]
stages:
  data:    {kind: numbers, params: {n: 6}}
  squares: {kind: gated-square, inputs: {data: data}}
  total:   {kind: total, inputs: {squares: squares}}
`,
  );
  const gated = { ...env, ...gate.env };
  // The runs overlap for sure: A holds two units at the gate while B waits for the entry.
  const first = start(['run', config, '--runs', runs, '--jobs', '2'], { env: gated });
  const { pid } = (await gate.arrived(2))[0]!;
  const second = start(['run', config, '--runs', runs, '--jobs', '2'], { env: gated });
  await waitUntil('the second run to wait for the first', () => /\[squares\] another attrib process is working on this entry; waiting for it/.test(second.stderr + second.stdout));
  gate.openAll();
  const [a, b] = await Promise.all([first.done, second.done]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  t.true(gate.arrivals().every((x) => x.pid === pid), 'only the first run executed units');
  const lines = executions(log);
  t.is(lines.length, 6, lines.join(', '));
  t.is(new Set(lines).size, 6);
  const run = runJson(runs, 'twice');
  t.is(run.total!.metrics.total, 55);
  // One process ran all units (the other waited): with --jobs 2 on both threads of its pool.
  const threads = new Set(Array.from({ length: 6 }, (_, i) => readJson(join(entry(runs, run.squares!.hash), 'units', String(i), 'value.json')).thread));
  t.is(threads.size, 2, 'units ran in parallel worker threads');
  for (const e of Object.values(run)) t.true(['ran', 'cached'].includes(e.status));
  const plan = await attrib(['plan', config, '--runs', runs]);
  t.is((plan.stdout.match(/ cached/g) ?? []).length, 3, plan.stdout);
  t.deepEqual(leftovers(runs), []);
});

test('gc removes only entries no run.json or kept run record references', async (t) => {
  const { runs, env } = setup();
  t.is((await attrib(['run', TOY, '--runs', runs], { env })).code, 0);
  const old = runJson(runs, 'toy');
  t.is((await attrib(['run', TOY, '--runs', runs, '--set', 'stages.total.params.scale=3'], { env })).code, 0);
  const now = runJson(runs, 'toy');
  const orphan = '0'.repeat(64);
  mkdirSync(join(runs, 'store', orphan));
  mkdirSync(join(runs, 'store', 'not-an-entry'));

  // The first run's record keeps its total until gc is told to keep only the last run.
  t.regex((await attrib(['gc', '--runs', runs, '--dry-run'])).stdout, /would remove 1 entries/);
  const dry = await attrib(['gc', '--runs', runs, '--dry-run', '--keep-last', '1']);
  t.is(dry.code, 0);
  t.regex(dry.stdout, /would remove 2 entries/);
  t.true(existsSync(entry(runs, old.total!.hash)));

  const gc = await attrib(['gc', '--runs', runs, '--keep-last', '1']);
  t.is(gc.code, 0, gc.stderr);
  t.false(existsSync(entry(runs, old.total!.hash)));
  t.false(existsSync(entry(runs, orphan)));
  for (const e of Object.values(now)) t.true(existsSync(join(entry(runs, e.hash), 'manifest.json')));
  t.true(existsSync(join(runs, 'store', 'not-an-entry')), 'gc only touches hash-named entries');
  t.regex((await attrib(['gc', '--runs', runs])).stdout, /removed 0 entries/);
});

test('attrib unit HASH INDEX re-creates one unit from the store alone; seeds do not depend on --jobs', async (t) => {
  const a = setup();
  const b = setup();
  t.is((await attrib(['run', TOY, '--runs', a.runs, '--jobs', '1'], { env: a.env })).code, 0);
  t.is((await attrib(['run', TOY, '--runs', b.runs, '--jobs', '2'], { env: b.env })).code, 0);
  const hash = runJson(a.runs, 'toy').squares!.hash as StageHash;
  t.is(runJson(b.runs, 'toy').squares!.hash, hash);
  const value = (runs: string, i: number) => {
    const { thread: _, ...rest } = readJson(join(entry(runs, hash), 'units', String(i), 'value.json'));
    return rest;
  };
  for (let i = 0; i < 6; i++) {
    t.deepEqual(value(a.runs, i), value(b.runs, i));
    t.is(value(a.runs, i).seed, deriveSeed(7, hash, i));
  }

  const before = value(a.runs, 3);
  rmSync(join(entry(a.runs, hash), 'units', '3'), { recursive: true });
  const r = await attrib(['unit', hash, '3', '--runs', a.runs, '--plugin', PLUGIN], { env: a.env });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(value(a.runs, 3), before);
  t.is(executions(a.log).length, 7);
  const again = await attrib(['unit', hash, '3', '--runs', a.runs, '--plugin', PLUGIN], { env: a.env });
  t.is(again.code, 0);
  t.is(executions(a.log).length, 7, 'a finished unit is not run again');
});
