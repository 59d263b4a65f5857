/**
 * Extension points are typed keys held by each Registry: a misspelt key or a value of
 * the wrong type does not compile (the `@ts-expect-error` lines below fail `tsc` the
 * day they compile), a string is refused at run time (a JavaScript plugin), and two
 * registries in one process share nothing.
 */
import test from 'ava';
import { extensionPoint, Registry, RegistryError, type ExtensionPoint } from '../../pipeline/registry.ts';
import { COMMANDS } from '../../pipeline/commands/types.ts';
import { EXECUTORS } from '../../pipeline/executor.ts';
import type { DataSource } from '../../lib/data/index.ts';
import type { ModelKind } from '../../lib/models/index.ts';
import { DATA_SOURCES, MODEL_KINDS } from '../../stages/extensions.ts';
import { registerBuiltins } from '../../stages/index.ts';

/** Never called: `tsc --noEmit` fails on any line below that compiles (an unused @ts-expect-error is an error). */
export function mustNotCompile(registry: Registry, iris: DataSource): unknown[] {
  return [
    // @ts-expect-error a data source is not a model kind
    ((): ModelKind | undefined => registry.extensions(DATA_SOURCES).get('iris'))(),
    // @ts-expect-error a data source cannot be registered as a model kind
    registry.register(MODEL_KINDS, 'iris', iris),
    // @ts-expect-error the keys of two tables are different types
    ((): ExtensionPoint<ModelKind> => DATA_SOURCES)(),
    // @ts-expect-error a misspelt key is an unknown name, not an empty table
    registry.extensions(DATA_SOURCE),
    // @ts-expect-error a string is not a key
    registry.register('source', 'two-moons', iris),
  ];
}

test('a key types the values of its table', (t) => {
  const registry = new Registry();
  registerBuiltins(registry);
  const iris: DataSource | undefined = registry.extensions(DATA_SOURCES).get('iris');
  t.is(iris?.name, 'iris');
  const mlp: ModelKind | undefined = registry.extensions(MODEL_KINDS).get('mlp');
  t.is(mlp?.name, 'mlp');
  t.deepEqual([DATA_SOURCES.name, MODEL_KINDS.name, COMMANDS.name, EXECUTORS.name], ['source', 'model', 'command', 'executor']);
});

test('a plain string is not an extension point: refused at compile time and at run time', (t) => {
  const registry = new Registry();
  // @ts-expect-error a string is not a key
  t.throws(() => registry.register('source', 'x', {}), { instanceOf: RegistryError, message: /"source" is not an extension point: pass its key/ });
  // @ts-expect-error a string is not a key
  t.throws(() => registry.extensions('model'), { instanceOf: RegistryError });
});

test('each registry has its own tables: what A registers, B does not see', (t) => {
  const NOTES = extensionPoint<string>('note');
  const a = new Registry();
  const b = new Registry();
  a.register(NOTES, 'hello', 'world');
  t.is(a.extensions(NOTES).get('hello'), 'world');
  t.is(b.extensions(NOTES).size, 0);
  t.throws(() => a.register(NOTES, 'hello', 'again'), { instanceOf: RegistryError, message: 'note "hello" is registered twice' });
  t.throws(() => a.register(NOTES, 'Bad Name', 'x'), { message: /note name "Bad Name" must match/ });
  // Built-ins are registered into each registry, not shared through a module table.
  registerBuiltins(a);
  registerBuiltins(b);
  t.not(a.extensions(DATA_SOURCES), b.extensions(DATA_SOURCES));
  t.deepEqual([...a.extensions(MODEL_KINDS).keys()], ['logreg', 'mlp', 'cnn']);
});
