/**
 * Run history through the real CLI: every run keeps its own record, `attrib runs` lists
 * them, `gc` keeps what a kept record references (and prunes records when told), and
 * `plan` says why stages are stale compared with a chosen run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Gate, GATE_PLUGIN } from '../helpers/rig.ts';
import { attrib, entry, FIXTURES, readJson, runJson, start, tmp, writeConfig } from '../engine/helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');

test('each run keeps its record; runs lists them; gc keeps what kept records reference', async (t) => {
  const runs = tmp();
  t.is((await attrib(['run', TOY, '--runs', runs, '--jobs', '1'])).code, 0);
  const first = runJson(runs, 'toy');
  const second = await attrib(['run', TOY, '--runs', runs, '--jobs', '1', '--set', 'stages.total.params.scale=2']);
  t.is(second.code, 0, second.stderr);
  t.not(runJson(runs, 'toy').total!.hash, first.total!.hash, 'run.json is the latest run');

  const files = readdirSync(join(runs, 'toy', 'history')).sort();
  t.is(files.length, 2);
  const listed = await attrib(['runs', '--runs', runs, '--json']);
  t.is(listed.code, 0, listed.stderr);
  const records = JSON.parse(listed.stdout);
  t.deepEqual(records.map((r: { id: string }) => `${r.id}.json`), files);
  t.like(records[0], { experiment: 'toy', status: 'complete', overrides: [], attrib: '0.1.0', pid: records[0].pid });
  t.like(records[1], { status: 'complete', overrides: ['stages.total.params.scale=2'] });
  t.is(records[1].resolved.stages.total.params.scale, 2, 'the resolved config is recorded');
  t.is(records[0].stages.total.hash, first.total!.hash);
  t.is(records[1].stages.squares.status, 'cached');
  t.regex(records[0].git?.commit ?? 'no git', /^([0-9a-f]{40}|no git)$/);

  const text = await attrib(['log', '--runs', runs, 'toy']);
  t.regex(text.stdout, /^id\s+experiment\s+started \(UTC\)\s+status\s+stages\s+commit\s+overrides$/m);
  t.regex(text.stdout, new RegExp(`^${records[1].id}\\s+toy\\s+\\S+ \\S+\\s+complete\\s+1 ran, 3 cached\\s+\\S+\\s+stages.total.params.scale=2$`, 'm'));
  t.regex((await attrib(['runs', '--runs', runs, 'nothing'])).stdout, /no recorded runs/);

  // plan: why stale, against the last complete run by default or a chosen one.
  const plan = await attrib(['plan', TOY, '--runs', runs, '--set', 'stages.total.params.scale=3']);
  t.regex(plan.stdout, new RegExp(`^toy  \\(compared with run ${records[1].id}\\)$`, 'm'));
  t.regex(plan.stdout, /^total .* missing\s+params\.scale: 2 -> 3$/m);
  const against = await attrib(['plan', TOY, '--runs', runs, '--set', 'stages.total.params.scale=3', '--against', records[0].id, '--json']);
  t.is(against.code, 0, against.stderr);
  const planned = JSON.parse(against.stdout);
  t.is(planned.experiments[0].against, records[0].id);
  t.like(planned.experiments[0].stages[2], { stage: 'total', kind: 'total', state: 'missing', why: 'params.scale: 1 -> 3' });
  t.is(planned.toRun, 1);
  const unknown = await attrib(['plan', TOY, '--runs', runs, '--against', 'nope']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /--against: no run "nope" of toy \(its runs: /);

  // gc: the first run's total stays while its record is kept.
  const gc = await attrib(['gc', '--runs', runs]);
  t.regex(gc.stdout, /removed 0 entries/);
  t.true(existsSync(join(entry(runs, first.total!.hash), 'manifest.json')));
  const pruned = await attrib(['gc', '--runs', runs, '--keep-since', '2999-01-01', '--keep-last', '1']);
  t.is(pruned.code, 0, pruned.stderr);
  t.regex(pruned.stdout, new RegExp(`^forgot run ${records[0].id} of toy$`, 'm'));
  t.regex(pruned.stdout, /removed 1 entries, kept 4; forgot 1 run records/);
  t.false(existsSync(entry(runs, first.total!.hash)));
  t.deepEqual(readdirSync(join(runs, 'toy', 'history')), [files[1]]);

  const bad = await attrib(['gc', '--runs', runs, '--keep-since', 'yesterday']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /expected a date such as 2026-12-01/);
});

test('a record names its sweep point and survives as the latest run of each point', async (t) => {
  const runs = tmp();
  const ran = await attrib(['run', join(FIXTURES, 'sweep.yaml'), '--runs', runs, '--jobs', '1']);
  t.is(ran.code, 0, ran.stderr);
  const records = JSON.parse((await attrib(['runs', '--runs', runs, '--json'])).stdout) as { id: string; experiment: string; point: unknown[] }[];
  t.true(records.length > 1);
  t.is(new Set(records.map((r) => r.id)).size, 1, 'one id for the whole run');
  for (const r of records) {
    t.true(r.point.length > 0);
    t.deepEqual(readJson(join(runs, r.experiment, 'history', `${r.id}.json`)).stages, readJson(join(runs, r.experiment, 'run.json')));
  }
});

test('a killed run keeps its record, shown as interrupted; gc does not count it as running', async (t) => {
  const runs = tmp();
  const gate = new Gate();
  const config = writeConfig(tmp(), `name: killed\nplugins: [PLUGIN, ${GATE_PLUGIN}]\nstages:\n  data:    {kind: numbers, params: {n: 2}}\n  squares: {kind: gated-square, inputs: {data: data}}\n`);
  const run = start(['run', config, '--runs', runs, '--jobs', '1'], { env: gate.env });
  await gate.arrived(1);
  const live = JSON.parse((await attrib(['runs', '--runs', runs, '--json'])).stdout);
  t.like(live[0], { experiment: 'killed', status: 'running', pid: run.child.pid });
  run.child.kill('SIGKILL');
  await run.done;
  const records = JSON.parse((await attrib(['runs', '--runs', runs, '--json'])).stdout);
  t.is(records.length, 1);
  t.like(records[0], { status: 'interrupted', stages: { data: { status: 'pending' }, squares: { status: 'pending' } } });
  t.regex((await attrib(['runs', '--runs', runs])).stdout, /\skilled\s+\S+ \S+\s+interrupted\s+2 pending\s/);
  const gc = await attrib(['gc', '--runs', runs, '--keep-last', '0', '--dry-run']);
  t.regex(gc.stdout, new RegExp(`^would forget run ${records[0].id} of killed$`, 'm'));
});
