/**
 * `attrib compare` through the real CLI: what differs between two runs or two stages
 * (kind, params, inputs and metrics), as a table or as JSON.
 */
import { join } from 'node:path';
import test from 'ava';
import { attrib, FIXTURES, runJson, tmp } from '../engine/helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');

test('compare names kind, params and input differences beside the metrics', async (t) => {
  const runs = tmp();
  const ran = await attrib(['run', TOY, '--runs', runs, '--jobs', '1', '--sweep', 'stages.total.params.scale=1,2']);
  t.is(ran.code, 0, ran.stderr);

  const points = await attrib(['compare', 'toy@scale=1', 'toy@scale=2', '--runs', runs]);
  t.is(points.code, 0, points.stderr);
  t.regex(points.stdout, /^squares\s+\(same entry\)$/m);
  t.regex(points.stdout, /^total\s+total\s+55\s+110\s+\+55 \(\+100%\)$/m);
  t.regex(points.stdout, /^\s+params\.scale\s+1\s+2\s+\+1 \(\+100%\)$/m);
  t.notRegex(points.stdout, /no differences/);

  // Two stages of one run: different kinds, params and inputs.
  const run = runJson(runs, 'toy@scale=1');
  const stages = await attrib(['compare', 'toy@scale=1:squares', 'toy@scale=1:total', '--runs', runs]);
  t.is(stages.code, 0, stages.stderr);
  t.regex(stages.stdout, /^squares \/ total\s+sum\s+55\s+removed$/m);
  t.regex(stages.stdout, /^\s+kind\s+square\s+total\s+changed$/m);
  t.regex(stages.stdout, /^\s+params\.sleepMs\s+20\s+removed$/m);
  t.regex(stages.stdout, new RegExp(`^\\s+input data\\s+${run.data!.hash.slice(0, 12)}\\s+removed$`, 'm'));
  t.regex(stages.stdout, new RegExp(`^\\s+input squares\\s+${run.squares!.hash.slice(0, 12)}\\s+added$`, 'm'));

  const json = await attrib(['compare', 'toy@scale=1:total', 'toy@scale=2:total', '--runs', runs, '--json']);
  t.is(json.code, 0, json.stderr);
  const c = JSON.parse(json.stdout);
  t.is(c.a.name, 'toy@scale=1:total');
  t.is(c.stages.length, 1);
  t.like(c.stages[0], { stage: 'total', same: false });
  t.deepEqual(
    c.stages[0].rows.filter((r: { field: string }) => r.field === 'total' || r.field.startsWith('params')),
    [
      { field: 'total', a: 55, b: 110, delta: '+55 (+100%)' },
      { field: 'params.scale', a: 1, b: 2, delta: '+1 (+100%)' },
    ],
  );

  const missing = await attrib(['compare', 'toy@scale=1:nope', 'toy@scale=2:total', '--runs', runs]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^run toy@scale=1 has no stage "nope" \(its stages: data, squares, total, other\)$/m);
});

test('compare takes run ids from attrib runs, and a record file for one sweep point', async (t) => {
  const runs = tmp();
  t.is((await attrib(['run', TOY, '--runs', runs, '--jobs', '1'])).code, 0);
  t.is((await attrib(['run', TOY, '--runs', runs, '--set', 'stages.total.params.scale=3'])).code, 0);
  t.is((await attrib(['run', TOY, '--runs', runs, '--sweep', 'stages.total.params.scale=1,2'])).code, 0);
  const [first, second, sweep] = JSON.parse((await attrib(['runs', 'toy', '--runs', runs, '--json'])).stdout) as { id: string; experiment: string }[];
  t.is(first!.experiment, 'toy');

  const byId = await attrib(['compare', first!.id, second!.id.slice(0, 17), '--runs', runs]);
  t.is(byId.code, 0, byId.stderr);
  t.regex(byId.stdout, new RegExp(`^A: toy ${first!.id} `, 'm'));
  t.regex(byId.stdout, /^total\s+total\s+55\s+165\s+\+110 \(\+200%\)$/m);
  t.regex(byId.stdout, /^\s+params\.scale\s+1\s+3\s+\+2 \(\+200%\)$/m);

  const ambiguous = await attrib(['compare', sweep!.id, first!.id, '--runs', runs]);
  t.is(ambiguous.code, 2);
  t.regex(ambiguous.stderr, new RegExp(`run id "${sweep!.id}" names 2 runs; give one's record: toy@scale=1/history/${sweep!.id}\\.json`));
  const record = await attrib(['compare', `toy@scale=2/history/${sweep!.id}.json:total`, `${second!.id}:total`, '--runs', runs]);
  t.is(record.code, 0, record.stderr);
  t.regex(record.stdout, /^\s+params\.scale\s+2\s+3\s+\+1 \(\+50%\)$/m);
});
