// The import rules of docs/design.md ("Layers"), checked on the source tree: the
// library never imports the engine, the engine never imports the ML, and no module
// imports itself back through a chain of imports.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LAYERS = ['bin', 'pipeline', 'stages', 'lib', 'report', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import (by folder, or a path prefix inside one). */
const ALLOWED: Record<Layer, readonly string[]> = {
  lib: ['lib/'],
  pipeline: ['pipeline/', 'lib/io/', 'lib/random/'],
  stages: ['stages/', 'pipeline/registry.ts', 'lib/', 'report/'],
  report: ['report/', 'pipeline/', 'lib/'],
  cli: ['cli/', 'pipeline/', 'report/', 'lib/'],
  bin: ['bin/', 'pipeline/', 'stages/', 'lib/', 'report/', 'cli/'],
};

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of a file (static, dynamic, re-exports, type-only), as repo paths. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return importedFiles.filter((f) => f.fileName.startsWith('.')).map((f) => relative(root, resolve(root, dirname(file), f.fileName)));
}

const files = LAYERS.flatMap((layer) => sources(layer));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('every layer imports only what docs/design.md allows', (t) => {
  const violations: string[] = [];
  for (const [file, edges] of graph) {
    const layer = file.split('/')[0] as Layer;
    for (const to of edges) {
      if (!ALLOWED[layer].some((prefix) => to === prefix || to.startsWith(prefix))) violations.push(`${file} imports ${to}`);
    }
  }
  t.deepEqual(violations, []);
});

test('no import circles (type-only imports count too: they tangle the layers as much)', (t) => {
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file].join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const to of graph.get(file) ?? []) if (graph.has(to)) visit(to, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  t.deepEqual(circles, []);
});

test('the check sees the tree: every layer has files and imports resolve to files', (t) => {
  for (const layer of LAYERS) t.true(files.some((f) => f.startsWith(`${layer}/`)), layer);
  const missing = [...graph].flatMap(([file, edges]) => edges.filter((to) => !graph.has(to) && !/\.(js|json|wasm|csv)$/.test(to)).map((to) => `${file} → ${to}`));
  t.deepEqual(missing, []);
});
