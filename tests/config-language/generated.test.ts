/**
 * What is generated from the registry and checked in must be current:
 * schema/attrib.schema.json, docs/reference.md, and the snippets shown in the guides
 * (each ```yaml block in docs/*.md is a `<!-- snippet: FILE -->` that a test runs).
 * Fix a failure with `npx tsx scripts/gen-docs.ts`.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { guideFiles, REFERENCE_FILE, snippetFiles, stale } from '../../scripts/gen-docs.ts';
import { attrib, ROOT } from './helpers.ts';

test('schema/attrib.schema.json, docs/reference.md and the guides\' snippets are current (npx tsx scripts/gen-docs.ts)', (t) => {
  t.deepEqual(stale(), []);
});

test('attrib kinds --markdown is docs/reference.md', async (t) => {
  const r = await attrib(['kinds', '--markdown']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, readFileSync(REFERENCE_FILE, 'utf8'));
});

test('every yaml block in the guides is a snippet of a real file', (t) => {
  for (const guide of guideFiles()) {
    const text = readFileSync(guide, 'utf8');
    const yamlBlocks = [...text.matchAll(/^(.*)\n```ya?ml$/gm)];
    for (const [, before] of yamlBlocks) t.regex(before!, /^<!-- snippet: \S+ -->$/, `${relative(ROOT, guide)}: every \`\`\`yaml block follows a <!-- snippet: FILE --> line`);
    const snippets = snippetFiles(text);
    for (const file of snippets) t.true(existsSync(join(ROOT, 'docs', file)), `${relative(ROOT, guide)}: ${file}`);
  }
});
