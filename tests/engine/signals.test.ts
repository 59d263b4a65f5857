/**
 * SIGTERM and SIGINT stop `attrib run` at once, saying that finished work is kept and a
 * re-run resumes (issue 16, item 9). Driven by the gate (tests/helpers/rig.ts): one unit
 * is let through and finishes, another is held at the gate when the signal comes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { finished as ended, Gate, GATE_PLUGIN, waitUntil } from '../helpers/rig.ts';
import { attrib, entry, finishedUnits, runJson, start, tmp, writeConfig } from './helpers.ts';

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal} mid-stage: exit ${code} with the message, finished units kept, a re-run resumes them`, async (t) => {
    const runs = tmp();
    const gate = new Gate();
    const config = writeConfig(
      tmp(),
      `name: stopped
plugins: [PLUGIN, ${GATE_PLUGIN}]
stages:
  data:    {kind: numbers, params: {n: 4}}
  squares: {kind: gated-square, inputs: {data: data}}
  total:   {kind: total, inputs: {squares: squares}}
`,
    );
    const run = start(['run', config, '--runs', runs, '--jobs', '2'], { env: gate.env });
    const [done, held] = await gate.arrived(2);
    gate.open(done!.index);
    await waitUntil(`unit ${done!.index} to finish`, () => finishedUnits(runs, done!.hash) === 1);
    run.child.kill(signal);
    // The limit only turns a run that ignores the signal into a failure, it times nothing.
    const r = await ended(run, 60_000);
    t.is(r.signal, null, 'attrib handled the signal itself');
    t.is(r.code, code);
    t.regex(r.stderr, new RegExp(`^attrib: stopped by ${signal}: finished units and stages are kept in ${runs}; run the same command again to resume$`, 'm'));
    t.true(existsSync(join(entry(runs, done!.hash), 'units', String(done!.index), 'unit.json')), 'the finished unit is on disk');
    t.false(existsSync(join(entry(runs, done!.hash), 'units', String(held!.index), 'unit.json')), 'the held unit did not finish');
    t.false(existsSync(join(entry(runs, done!.hash), 'manifest.json')));

    gate.openAll();
    const again = await attrib(['run', config, '--runs', runs, '--jobs', '2'], { env: gate.env });
    t.is(again.code, 0, again.stderr);
    t.regex(again.stderr, /\[squares\] started 4 units \(1 done earlier, resuming\)/);
    t.false(gate.arrivals().some((a) => a.pid !== run.child.pid && a.index === done!.index), 'the finished unit was not run again');
    t.is(runJson(runs, 'stopped').total!.metrics.total, 14);
  });
}
