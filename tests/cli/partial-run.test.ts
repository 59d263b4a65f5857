/**
 * Partial runs through the real CLI: `attrib run CONFIG STAGE...` runs what those stages
 * need, `--until` leaves out what is downstream, `--dry-run` runs nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { attrib, executions, FIXTURES, readJson, runJson, tmp } from '../engine/helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');
const statuses = (runs: string) => Object.fromEntries(Object.entries(runJson(runs, 'toy')).map(([k, e]) => [k, e.status]));

test('a target, --until and --dry-run', async (t) => {
  const runs = tmp();
  const log = join(runs, 'toy.log');
  const env = { ATTRIB_TOY_LOG: log };

  const dry = await attrib(['run', TOY, 'squares', '--runs', runs, '--dry-run'], { env });
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /^data\s+numbers\s+[0-9a-f]{12}\s+missing$/m);
  t.regex(dry.stdout, /^squares\s+square\s+[0-9a-f]{12}\s+missing$/m);
  t.notRegex(dry.stdout, /^(total|other)\s/m);
  t.regex(dry.stdout, /^dry run: 2 stage instance\(s\) would run; nothing was run$/m);
  t.false(existsSync(join(runs, 'store')), 'a dry run writes nothing');
  t.false(existsSync(join(runs, 'toy')));

  const target = await attrib(['run', TOY, 'squares', '--runs', runs, '--jobs', '1'], { env });
  t.is(target.code, 0, target.stderr);
  t.deepEqual(statuses(runs), { data: 'ran', squares: 'ran' });
  t.is(readdirSync(join(runs, 'store')).length, 2);
  t.is(executions(log).length, 6);
  const [record] = readdirSync(join(runs, 'toy', 'history')).map((f) => readJson(join(runs, 'toy', 'history', f)));
  t.deepEqual(record.selected, ['squares']);
  t.deepEqual(Object.keys(record.stages), ['data', 'squares']);

  const until = await attrib(['run', TOY, '--until', 'squares', '--runs', runs, '--jobs', '1'], { env });
  t.is(until.code, 0, until.stderr);
  t.deepEqual(statuses(runs), { data: 'cached', squares: 'cached', other: 'ran' });

  const dryAll = await attrib(['run', TOY, '--runs', runs, '--dry-run', '--force', 'squares'], { env });
  t.regex(dryAll.stdout, /^squares\s+square\s+[0-9a-f]{12}\s+cached\s+forced$/m);
  t.regex(dryAll.stdout, /^total\s+total\s+[0-9a-f]{12}\s+missing\s+forced$/m);
  t.regex(dryAll.stdout, /^dry run: 2 stage instance\(s\) would run/m);

  t.is((await attrib(['run', TOY, '--runs', runs, '--jobs', '1'], { env })).code, 0);
  t.deepEqual(statuses(runs), { data: 'cached', squares: 'cached', total: 'ran', other: 'cached' });
  // A later partial run leaves the other stages' entries in run.json (the latest view).
  t.is((await attrib(['run', TOY, 'other', '--runs', runs, '--jobs', '1'], { env })).code, 0);
  t.deepEqual(statuses(runs), { data: 'cached', squares: 'cached', total: 'ran', other: 'cached' });
  t.is(executions(log).length, 6, 'no unit ran twice');

  const unknown = await attrib(['run', TOY, 'nope', '--runs', runs]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no stage named "nope" \(stages: data, squares, total, other\)/);
  const badUntil = await attrib(['run', TOY, '--until', 'nope', '--runs', runs, '--dry-run']);
  t.is(badUntil.code, 2);
  t.regex(badUntil.stderr, /^--until: no stage named "nope"/m);
});
