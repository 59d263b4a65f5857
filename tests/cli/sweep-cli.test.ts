/**
 * Sweeps from the command line (`--sweep`, `--zip`), the points table at the end of a
 * sweep (`--format text|csv|json`), and machine-readable `status --json`.
 */
import { join } from 'node:path';
import test from 'ava';
import { attrib, FIXTURES, runJson, tmp } from '../engine/helpers.ts';

const TOY = join(FIXTURES, 'toy.yaml');
const SCALE = 'stages.total.params.scale';
const N = 'stages.other.params.n';

test('--sweep makes a grid, --zip walks in lock step; a line per point at the end', async (t) => {
  const runs = tmp();
  const grid = await attrib(['run', TOY, '--runs', runs, '--jobs', '1', '--sweep', `${SCALE}=1,2,3`, '--sweep', `${N}=2,3`]);
  t.is(grid.code, 0, grid.stderr);
  t.is(runJson(runs, 'toy@scale=3,n=2').total!.metrics.total, 165);
  // The points table, up to the closing block (where the results are).
  const from = grid.stdout.slice(grid.stdout.indexOf('6 sweep points'));
  const table = from.slice(0, from.indexOf('\n\n'));
  t.is(
    table.trim(),
    ['6 sweep points', 'scale  n  total.total  other.count', '1      2  55           2', '1      3  55           3', '2      2  110          2', '2      3  110          3', '3      2  165          2', '3      3  165          3'].join('\n'),
  );

  const zip = await attrib(['run', TOY, '--runs', runs, '--sweep', `${SCALE}=1,2`, '--sweep', `${N}=2,3`, '--zip', '--format', 'csv']);
  t.is(zip.code, 0, zip.stderr);
  t.is(zip.stdout.trim(), ['scale,n,total.total,other.count', '1,2,55,2', '2,3,110,3'].join('\n'), 'csv: only the points table');

  const json = await attrib(['run', TOY, '--runs', runs, '--sweep', `${SCALE}=0.5,2`, '--format', 'json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout), [
    { experiment: 'toy@scale=0.5', point: { scale: 0.5 }, status: 'ok', metrics: { 'total.total': 27.5 } },
    { experiment: 'toy@scale=2', point: { scale: 2 }, status: 'ok', metrics: { 'total.total': 110 } },
  ]);

  // One point: the metrics of its last stages.
  const one = await attrib(['run', TOY, '--runs', runs, '--format', 'csv']);
  t.is(one.stdout.trim(), ['experiment,total.total,other.count', 'toy,55,3'].join('\n'));

  const status = await attrib(['status', TOY, '--runs', runs, '--sweep', `${SCALE}=1,2`, '--json']);
  t.is(status.code, 0, status.stderr);
  const states = JSON.parse(status.stdout);
  t.deepEqual(states.map((e: { name: string }) => e.name), ['toy@scale=1', 'toy@scale=2']);
  t.like(states[1].stages[2], { stage: 'total', state: 'cached', metrics: { total: 110 } });
});

test('--sweep mistakes are one line each, exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--sweep', 'stages.total.params.scale'], /^--sweep: expected PATH=VALUE,VALUE,\.\.\., got "stages\.total\.params\.scale"$/m],
    [['--sweep', 'stages.nope.params.x=1,2'], /^--sweep stages\.nope\.params\.x=1,2: no stage named "nope"$/m],
    [['--sweep', `${SCALE}=1,2`, '--sweep', `${N}=1,2,3`, '--zip'], /^--sweep stages\.other\.params\.n=1,2,3: zip lists must have the same length: stages\.total\.params\.scale has 2, this one has 3$/m],
    [['--sweep', `${SCALE}=1,x`], /scale/],
  ];
  for (const [args, expected] of cases) {
    const r = await attrib(['plan', TOY, ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
    t.regex(r.stderr, expected);
  }
});
