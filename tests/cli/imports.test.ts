/**
 * The command line's and the executors' imports: no circle among the engine's modules
 * they reach, commands import their types from pipeline/commands/types.ts (not from
 * cli.ts, which only the executable and the package entry import), and the executor
 * list (pipeline/executors/index.ts) is the only module outside an executor's folder
 * that imports from it.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');
const rel = (file: string) => relative(ROOT, file).split('\\').join('/');

/** Relative .ts imports of a module (type-only ones too: they make circles for readers). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles.map((i) => i.fileName).filter((n) => n.startsWith('.') && n.endsWith('.ts')).map((n) => resolve(dirname(file), n));
}

/** Every module reachable from `roots`, with its imports. */
function graph(roots: string[]): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const todo = [...roots];
  while (todo.length) {
    const file = todo.pop()!;
    if (edges.has(file) || !existsSync(file)) continue;
    const imports = importsOf(file);
    edges.set(file, imports);
    todo.push(...imports);
  }
  return edges;
}

/** One circle, as a list of modules, or undefined. */
function findCircle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file];
    state.set(file, 'open');
    path.push(file);
    for (const next of edges.get(file) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    path.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of edges.keys()) {
    const circle = visit(file);
    if (circle) return circle;
  }
  return undefined;
}

const engine = graph([join(ROOT, 'pipeline/cli.ts'), join(ROOT, 'pipeline/executors/index.ts')]);
const inPipeline = [...engine.keys()].filter((f) => rel(f).startsWith('pipeline/'));

test('the CLI and the executors import no circle', (t) => {
  const circle = findCircle(new Map(inPipeline.map((f) => [f, engine.get(f)!.filter((i) => rel(i).startsWith('pipeline/'))])));
  t.is(circle?.map(rel).join(' -> '), undefined);
});

test('commands take their types from pipeline/commands/types.ts, never from cli.ts', (t) => {
  const cli = join(ROOT, 'pipeline/cli.ts');
  const extensions = ['cli/index.ts', 'cli/init.ts', 'cli/report.ts'].map((f) => join(ROOT, f));
  const importers = [...graph([...inPipeline, ...extensions]).entries()].filter(([, imports]) => imports.includes(cli)).map(([f]) => rel(f));
  t.deepEqual(importers, []);
});

test('only the executor list imports from an executor\'s folder', (t) => {
  const folder = (f: string) => /^pipeline\/executors\/([^/]+)\//.exec(rel(f))?.[1];
  const strays: string[] = [];
  for (const file of inPipeline) {
    if (rel(file) === 'pipeline/executors/index.ts') continue;
    for (const imported of engine.get(file)!) {
      const owner = folder(imported);
      // An executor may build on another one's public face (bullmq runs the local pool): its index.ts.
      if (owner && owner !== folder(file) && !(folder(file) && rel(imported) === `pipeline/executors/${owner}/index.ts`)) strays.push(`${rel(file)} -> ${rel(imported)}`);
    }
  }
  t.deepEqual(strays, []);
});
