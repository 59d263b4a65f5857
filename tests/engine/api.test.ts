/** The programmatic API (index.ts): what a researcher scripting in TypeScript calls. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { defineStage, formatError, PREFLIGHTS, Registry, runConfig, z, type RunEvent } from '../../index.ts';
import { FIXTURES, runJson, tmp, writeConfig } from './helpers.ts';

test('runConfig runs a config with worker threads and reports events; a second run is cached', async (t) => {
  const runsDir = tmp();
  const events: RunEvent[] = [];
  const result = await runConfig(join(FIXTURES, 'toy.yaml'), { registry: new Registry(), runsDir, jobs: 2, onEvent: (e) => events.push(e) });
  if (!result.ok) return t.fail(JSON.stringify(result.errors));
  t.true(result.value.ok);
  t.deepEqual(
    [...result.value.results.values()].map((r) => r.status),
    ['ran', 'ran', 'ran', 'ran'],
  );
  t.true(events.some((e) => e.type === 'started' && e.stage === 'squares' && e.units?.total === 6));
  t.true(events.some((e) => e.type === 'log' && e.stage === 'data' && e.message === 'wrote 6 numbers'));
  t.is(runJson(runsDir, 'toy').total!.metrics.total, 55);

  const again = await runConfig(join(FIXTURES, 'toy.yaml'), { registry: new Registry(), runsDir, executor: 'inline' });
  t.true(again.ok && [...again.value.results.values()].every((r) => r.status === 'cached'));
});

test('config problems come back as values, not exceptions', async (t) => {
  const config = writeConfig(tmp(), 'name: x\nplugins: [PLUGIN]\nstages:\n  a: {kind: nope}\n');
  const result = await runConfig(config, { registry: new Registry(), runsDir: tmp() });
  t.false(result.ok);
  if (!result.ok) t.is(result.errors[0]!.message, 'unknown stage kind "nope" (known: numbers, square, total)');
});

test('a kind defined in a script runs with the inline executor', async (t) => {
  const registry = new Registry();
  registry.registerStage(
    defineStage({
      name: 'greet',
      version: '1',
      description: 'writes a greeting',
      params: z.strictObject({ who: z.string().default('world') }),
      inputs: {},
      output: 'text',
      async run(ctx) {
        writeFileSync(join(ctx.outDir, 'greeting.txt'), `hello ${ctx.params.who}`);
        return { metrics: { length: 6 + ctx.params.who.length } };
      },
    }),
  );
  const runsDir = tmp();
  const config = writeConfig(tmp(), 'name: hi\nstages:\n  g: {kind: greet, params: {who: attrib}}\n');
  const result = await runConfig(config, { registry, runsDir, executor: 'inline' });
  if (!result.ok) return t.fail(JSON.stringify(result.errors));
  const run = runJson(runsDir, 'hi');
  t.is(run.g!.metrics.length, 12);
  t.is(readFileSync(join(runsDir, 'store', run.g!.hash, 'greeting.txt'), 'utf8'), 'hello attrib');
});

test('runConfig runs the preflight checks first: a failing one comes back as a value, and nothing runs', async (t) => {
  const registry = new Registry();
  const checked: string[] = [];
  registry.register(PREFLIGHTS, 'backend', ({ backend }: { backend: string }) => {
    checked.push(backend);
    return `backend "${backend}" is not installed here`;
  });
  const runsDir = tmp();
  const config = writeConfig(tmp(), 'name: x\nbackend: cpu\nplugins: [PLUGIN]\nstages:\n  a: {kind: numbers}\n');
  const result = await runConfig(config, { registry, runsDir, executor: 'inline' });
  t.deepEqual(checked, ['cpu']);
  if (result.ok) return t.fail('expected the preflight to fail');
  t.deepEqual(
    result.errors.map((e) => formatError({ ...e, file: e.file?.replace(/.*\//, '') })),
    ['config.yaml:2 backend: backend "cpu" is not installed here'],
  );
  t.false(existsSync(join(runsDir, 'x')), 'no run folder: nothing started');
});

test('runConfig reports an unknown executor as a value', async (t) => {
  const result = await runConfig(join(FIXTURES, 'toy.yaml'), { registry: new Registry(), runsDir: tmp(), executor: 'nowhere' });
  if (result.ok) return t.fail('expected an error');
  t.is(result.errors.length, 1);
  t.is(result.errors[0]!.file, '--executor');
  t.regex(result.errors[0]!.message, /^unknown executor "nowhere" \(known: local, inline\b/);
});
