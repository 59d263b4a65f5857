/**
 * What `attrib run` prints (issue 17, item 4): unit log lines folded into the stage's
 * progress line, rows cut or wrapped to the width, `--quiet`, the closing summary with
 * the record, the results' headline numbers (intervals folded in) and top.json, and what
 * Ctrl-C says.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { createReporter, fitTable, headline, resultsSummary } from '../../pipeline/progress.ts';
import type { ExperimentPlan } from '../../pipeline/plan.ts';
import type { InstanceResult } from '../../pipeline/record.ts';
import type { StageHash } from '../../pipeline/registry.ts';
import { Store, type Manifest } from '../../pipeline/store.ts';
import { GATE_PLUGIN, Gate, waitUntil } from '../helpers/rig.ts';
import { attrib, finishedUnits, start, tmp, writeConfig } from './helpers.ts';

function capture(columns?: number) {
  const out = { text: '', columns, write: (s: string) => void (out.text += s) };
  return out;
}

test('on a terminal, a unit\'s log lines fold into its stage\'s progress line, cut to the width; logs outside units still scroll', (t) => {
  const out = capture(80);
  const r = createReporter(out, { tty: true });
  const ids = { stage: 'models', hash: 'h' as StageHash };
  r.event({ type: 'started', ...ids, units: { done: 0, total: 16 } });
  r.event({ type: 'log', ...ids, message: 'model 0 (mask 0, seed 0): train 99.0%, test 91.0%, 1.0 s' });
  r.event({ type: 'progress', ...ids, done: 1, total: 16 });
  r.event({ type: 'progress', ...ids, done: 16, total: 16 });
  r.event({ type: 'log', ...ids, message: 'train: 16 models' });
  r.close();
  const lines = out.text.replace(/\x1b\[\d*[AJ]/g, '').split('\n').filter((l) => l !== '');
  const withModel = lines.filter((l) => l.includes('model 0 (mask 0'));
  t.true(withModel.length > 0 && withModel.every((l) => /^ {2}\[models\] \d+\/16 units, \d\d:\d\d elapsed/.test(l)), out.text);
  t.true(lines.every((l) => l.length <= 80), out.text);
  t.true(withModel.some((l) => l.endsWith('…')), 'cut, and the cut marked');
  t.true(lines.includes('[models] train: 16 models'), 'a line logged after the units (combine) scrolls');
});

test('plain output keeps every unit\'s line (a log file stays searchable) and notes it on the progress line', (t) => {
  const out = capture(80);
  const r = createReporter(out, { tty: false, plainEveryMs: 0 });
  const ids = { stage: 'models', hash: 'h' as StageHash };
  r.event({ type: 'started', ...ids, units: { done: 0, total: 16 } });
  r.event({ type: 'log', ...ids, message: 'model 0 (mask 0, seed 0): train 99.0%, test 91.0%, 1.0 s' });
  r.event({ type: 'progress', ...ids, done: 1, total: 16 });
  r.close();
  const lines = out.text.trimEnd().split('\n');
  t.is(lines[0], '[models] started 16 units');
  t.is(lines[1], '[models] model 0 (mask 0, seed 0): train 99.0%, test 91.0%, 1.0 s');
  t.regex(lines[2]!, /^\[models\] 1\/16 units, \d\d:\d\d elapsed ETA \d\d:\d\d · model 0 \(mask 0/);
  t.true(lines.every((l) => l.length <= 80), out.text);
});

test('--quiet prints warnings and failures only', (t) => {
  const out = capture();
  const r = createReporter(out, { tty: false, quiet: true });
  const hash = 'h' as StageHash;
  r.event({ type: 'started', stage: 'a', hash });
  r.event({ type: 'log', stage: 'a', hash, message: 'busy' });
  r.event({ type: 'finished', stage: 'a', hash, seconds: 1, metrics: {} });
  r.event({ type: 'failed', stage: 'b', hash, error: 'boom' });
  r.close();
  t.is(out.text, '[b] FAILED: boom\n');
});

test('headline metrics show an interval beside their value; long table rows wrap under the last column', (t) => {
  t.is(headline({ lds: 0.53124, ldsLow: 0.5, ldsHigh: 0.56, targets: 100, seconds: 3 }), 'lds=0.5312 [0.5, 0.56] targets=100');
  const row = `scores  ran     1.0      ${Array.from({ length: 12 }, (_, i) => `metric${i}=0.123`).join(' ')}`;
  const wrapped = fitTable(`stage   status  seconds  metrics\n${row}`, 80).split('\n');
  t.true(wrapped.every((l) => l.length <= 80), wrapped.join('\n'));
  t.true(wrapped.length > 2);
  t.true(wrapped.slice(2).every((l) => l.startsWith(' '.repeat(25)) && l[25] !== ' '), 'continuations start under "metrics"');
  t.is(wrapped.join(' ').replace(/\s+/g, ' '), `stage status seconds metrics ${row}`.replace(/\s+/g, ' '), 'nothing lost');
});

test('the closing summary names the record, each result with its headline numbers, and top.json', (t) => {
  const runs = tmp();
  const store = new Store(runs);
  const [scores, lds] = ['a'.repeat(64), 'b'.repeat(64)] as StageHash[];
  mkdirSync(store.entry(scores), { recursive: true });
  writeFileSync(join(store.entry(scores), 'top.json'), '[]');
  store.writeManifest({ hash: scores, kind: 'trak', metrics: {}, inputs: {}, files: { 'top.json': 2 }, digests: store.digestFiles(scores, { 'top.json': 2 }) } as unknown as Manifest);
  const plan = {
    experiment: { name: 'quick' },
    instances: [
      { name: 'scores', hash: scores, inputs: {} },
      { name: 'lds', hash: lds, inputs: { scores } },
    ],
  } as unknown as ExperimentPlan;
  const results = new Map<StageHash, InstanceResult>([
    [scores, { hash: scores, status: 'ran', seconds: 1, metrics: {} }],
    [lds, { hash: lds, status: 'cached', seconds: 0, metrics: { lds: 0.5312, ldsLow: 0.51, ldsHigh: 0.55 } }],
  ]);
  t.is(
    resultsSummary([plan], results, store, runs),
    ['quick: record quick/run.json', `  scores: store/${scores}/top.json`, '  lds: lds=0.5312 [0.51, 0.55]', `    in store/${lds}`].join('\n'),
  );
});

test('attrib run --quiet prints nothing on stderr (no progress, no backend line), then where the results are', async (t) => {
  const runs = tmp();
  const config = writeConfig(tmp(), 'name: hush\nplugins: [PLUGIN]\nstages:\n  data: {kind: numbers, params: {n: 3}}\n  squares: {kind: square, inputs: {data: data}}\n  total: {kind: total, inputs: {squares: squares}}\n');
  const r = await attrib(['run', config, '--runs', runs, '--quiet']);
  t.is(r.code, 0, r.stderr);
  // Not even the backend preflight's `backend: ...` line.
  t.is(r.stderr, '');
  t.regex(r.stdout, /^hush: record .*hush\/run\.json$/m);
  t.regex(r.stdout, /^ {2}total: total=5$/m);
});

test('Ctrl-C says that finished units are kept and the same command resumes', async (t) => {
  const runs = tmp();
  const gate = new Gate();
  const config = writeConfig(tmp(), `name: stopped\nplugins: [PLUGIN, ${GATE_PLUGIN}]\nstages:\n  data: {kind: numbers, params: {n: 4}}\n  squares: {kind: gated-square, inputs: {data: data}}\n`);
  const args = ['run', config, '--runs', runs, '--jobs', '1'];
  const first = start(args, { env: gate.env });
  const [one] = await gate.arrived(1);
  gate.open(one!.index);
  await waitUntil('one finished unit', () => finishedUnits(runs, one!.hash) === 1);
  await gate.arrived(2);
  first.child.kill('SIGINT');
  const stopped = await first.done;
  t.is(stopped.code, 130);
  t.regex(stopped.stderr, /stopped by SIGINT: finished units and stages are kept in .*; run the same command again to resume/);
  t.true(stopped.stderr.includes(`(the units that were running are dropped) attrib ${args.join(' ')}`), stopped.stderr);

  gate.openAll();
  const again = await attrib(args, { env: gate.env });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /\[squares\] started 4 units \(1 done earlier, resuming\)/);
});
