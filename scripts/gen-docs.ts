/**
 * Regenerates what is generated from the registry and checked in:
 *
 *   schema/attrib.schema.json   the config's JSON Schema (`attrib schema`), for editors
 *   docs/reference.md           the config reference (`attrib kinds --markdown`)
 *   docs/examples/starter-*.yaml  what `attrib init` writes, shown in docs/configs.md
 *   docs/*.md                   every ```yaml block under a `<!-- snippet: FILE -->` line
 *                               is refreshed from FILE (relative to docs/), so a guide
 *                               shows exactly the config the tests run
 *
 *   npx tsx scripts/gen-docs.ts           write them
 *   npx tsx scripts/gen-docs.ts --check   list stale files, exit 1 if any
 *
 * tests/config-language/generated.test.ts fails when any of them is stale.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReference } from '../pipeline/commands/kinds.ts';
import { schemaText, writeText } from '../pipeline/commands/schema.ts';
import { Registry } from '../pipeline/registry.ts';
import { registerBuiltins } from '../stages/index.ts';
import { renderStarter, type DataName, type Method } from '../cli/init.ts';

/** Starters shown in the docs (docs/examples/starter-DATA-METHOD.yaml). */
export const STARTERS: [DataName, Method][] = [['iris', 'trak']];

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DOCS = join(ROOT, 'docs');
export const SCHEMA_FILE = join(ROOT, 'schema', 'attrib.schema.json');
export const REFERENCE_FILE = join(DOCS, 'reference.md');

/** `<!-- snippet: examples/x.yaml -->` followed by a fenced block. */
const SNIPPET = /(<!-- snippet: ([^\s]+) -->\n```(\w*)\n)([\s\S]*?)(```)/g;

/** A guide's text with every snippet block replaced by its file's current content. */
export function refreshSnippets(text: string, docsDir = DOCS, pending: Map<string, string> = new Map()): string {
  return text.replace(SNIPPET, (_all, head: string, file: string, _lang: string, _body: string, end: string) => {
    const path = join(docsDir, file);
    if (!pending.has(path) && !existsSync(path)) throw new Error(`snippet ${file} does not exist (${path})`);
    const body = pending.get(path) ?? readFileSync(path, 'utf8');
    return `${head}${body.endsWith('\n') ? body : `${body}\n`}${end}`;
  });
}

/** The files of a guide's snippets, in order. */
export function snippetFiles(text: string): string[] {
  return [...text.matchAll(SNIPPET)].map((m) => m[2]!);
}

/**
 * The pages whose snippets are refreshed and tested: the index, writing configs and the
 * guides. Other pages in docs/ (backends.md, scale-out.md, reports.md) are written by the
 * engineers of those parts and left as they are.
 */
const GUIDE = /^(README|configs|guide-[a-z0-9-]+)\.md$/;

/** Markdown files in docs/ that the snippet refresh applies to: the guides. */
export function guideFiles(): string[] {
  return readdirSync(DOCS)
    .filter((f) => GUIDE.test(f))
    .map((f) => join(DOCS, f));
}

/** Path -> the text it should have. */
export function generated(): Map<string, string> {
  const registry = new Registry();
  registerBuiltins(registry);
  const files = new Map<string, string>();
  const { text, problems } = schemaText(registry);
  if (problems.length) throw new Error(`stage kinds whose params cannot be read: ${problems.map((p) => `${p.kind} (${p.message})`).join(', ')}`);
  files.set(SCHEMA_FILE, text);
  files.set(REFERENCE_FILE, renderReference(registry));
  for (const [data, method] of STARTERS) {
    const out = join(DOCS, 'examples', `starter-${data}-${method}.yaml`);
    files.set(out, renderStarter({ data, method, out, cwd: ROOT }));
  }
  for (const guide of guideFiles()) files.set(guide, refreshSnippets(readFileSync(guide, 'utf8'), DOCS, files));
  return files;
}

/** Files whose checked-in text differs from what they should be. */
export function stale(): string[] {
  const out: string[] = [];
  for (const [path, text] of generated()) {
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current !== text) out.push(relative(ROOT, path));
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const files = stale();
    for (const f of files) console.log(`stale: ${f}`);
    process.exitCode = files.length ? 1 : 0;
  } else {
    for (const [path, text] of generated()) {
      const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
      if (current === text) continue;
      writeText(path, text);
      console.log(`wrote ${relative(ROOT, path)}`);
    }
  }
}
