/**
 * List inputs (InputSpec.many): `inputs: {parts: [a, b, c]}` reaches the kind as
 * parts[0], parts[1], ... (inputList gives them in order), is hashed like any input,
 * and mistakes in a list point at the item's line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { defineStage, inputList, Registry, runConfig, z } from '../../index.ts';
import { runJson, tmp, writeConfig } from './helpers.ts';

function registry(): Registry {
  const r = new Registry();
  r.registerStage(
    defineStage({
      name: 'word',
      version: '1',
      description: 'writes a word',
      params: z.strictObject({ text: z.string() }),
      inputs: {},
      output: 'text',
      async run(ctx) {
        writeFileSync(join(ctx.outDir, 'text.txt'), ctx.params.text);
      },
    }),
  );
  r.registerStage(
    defineStage({
      name: 'join',
      version: '1',
      description: 'joins its parts, in order',
      params: z.strictObject({}),
      inputs: { parts: { kinds: ['text'], many: true, description: 'texts' }, sep: { kinds: ['text'], optional: true } },
      output: 'text',
      async run(ctx) {
        const sep = ctx.inputs.sep ? readFileSync(join(ctx.inputs.sep.dir, 'text.txt'), 'utf8') : ' ';
        const text = inputList(ctx.inputs, 'parts').map((a) => readFileSync(join(a.dir, 'text.txt'), 'utf8')).join(sep);
        writeFileSync(join(ctx.outDir, 'text.txt'), text);
        return { metrics: { parts: inputList(ctx.inputs, 'parts').length } };
      },
    }),
  );
  return r;
}

const WORDS = 'name: j\nstages:\n  a: {kind: word, params: {text: one}}\n  b: {kind: word, params: {text: two}}\n  c: {kind: word, params: {text: three}}\n  dash: {kind: word, params: {text: "-"}}\n';

test('a list input arrives in the config\'s order; one name is a list of one; the order is part of the hash', async (t) => {
  const runsDir = tmp();
  const text = () => readFileSync(join(runsDir, 'store', runJson(runsDir, 'j').all!.hash, 'text.txt'), 'utf8');
  const run = async (all: string) => {
    const result = await runConfig(writeConfig(tmp(), `${WORDS}  all: ${all}\n`), { registry: registry(), runsDir, executor: 'inline' });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    t.true(result.value.ok);
    return runJson(runsDir, 'j').all!.hash;
  };
  const h1 = await run('{kind: join, inputs: {parts: [c, a, b], sep: dash}}');
  t.is(text(), 'three-one-two');
  t.is(runJson(runsDir, 'j').all!.metrics.parts, 3);
  const h2 = await run('{kind: join, inputs: {parts: [a, b, c]}}');
  t.is(text(), 'one two three');
  t.not(h1, h2);
  await run('{kind: join, inputs: {parts: b}}');
  t.is(text(), 'two');
});

test('list mistakes: a list where one name goes, an unknown name in a list (at its own line)', async (t) => {
  const config = writeConfig(
    tmp(),
    `${WORDS}  all:
    kind: join
    inputs:
      parts:
        - a
        - nope
        - all2
      sep: [a, b]
  all2: {kind: join, inputs: {parts: [a]}}
  bad: {kind: word, params: {text: x}}
`,
  );
  const result = await runConfig(config, { registry: registry(), runsDir: tmp(), executor: 'inline' });
  t.false(result.ok);
  if (result.ok) return;
  const lines = result.errors.map((e) => `${e.line}: ${e.message}`);
  t.true(lines.includes('12: no stage named "nope"'), lines.join('\n'));
  t.true(lines.includes('14: input "sep" of stage kind "join" takes one stage name, got a list'), lines.join('\n'));
  t.is(lines.length, 2, lines.join('\n'));
});
