/** Hashing: stable values, what is in the hash and what is not, and what a change invalidates. */
import { createHash } from 'node:crypto';
import test from 'ava';
import { loadConfig } from '../../pipeline/config.ts';
import { canonicalJson, deriveSeed, stageHash } from '../../pipeline/hash.ts';
import { deriveSeed as libDeriveSeed } from '../../lib/random/rng.ts';
import { planExperiment } from '../../pipeline/plan.ts';
import { Registry, type StageHash, type StageKind } from '../../pipeline/registry.ts';
import { numbers, square, total } from '../fixtures/engine/toy-plugin.ts';
import { tmp, writeConfig } from './helpers.ts';

function registry(kinds: StageKind[] = [numbers, square, total]): Registry {
  const r = new Registry();
  for (const k of kinds) r.registerStage(k);
  return r;
}

const BASE = `
name: h
seed: 3
stages:
  data:    {kind: numbers, params: {n: 4}}
  squares: {kind: square, inputs: {data: data}, params: {sleepMs: 0}}
  total:   {kind: total, inputs: {squares: squares}}
  other:   {kind: numbers, params: {n: 2}}
`;

async function hashes(text: string, reg = registry(), set: string[] = []): Promise<Record<string, StageHash>> {
  const loaded = await loadConfig(writeConfig(tmp(), text), { registry: reg, set });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return Object.fromEntries(planExperiment(loaded.value.experiments[0]!).instances.map((i) => [i.name, i.hash]));
}

test('canonical JSON sorts keys at every level and drops undefined', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  t.is(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  t.throws(() => canonicalJson({ x: Number.NaN }));
});

test('derived seeds are pinned: stage and unit seeds are the same on every machine and version', (t) => {
  const hash = 'ab'.repeat(32) as StageHash;
  t.is(deriveSeed(0, hash), 3031537795);
  t.is(deriveSeed(7, hash, 3), 1845296831);
  t.is(deriveSeed(123456789, hash, 0), 2579424749);
  // The library's label form (lib/random) gives the same numbers: one derivation.
  t.is(libDeriveSeed(7, hash, 3), 1845296831);
  t.is(libDeriveSeed('featurize', 5, 2), 2553696879);
});

test('stage hashes are pinned: the same inputs give the same hash on every machine and version', (t) => {
  const h = stageHash({ kind: 'numbers', version: '1', params: { n: 4, start: 0 }, inputs: {}, seed: 0 });
  t.is(h, stageHash({ kind: 'numbers', version: '1', params: { start: 0, n: 4 }, inputs: {}, seed: 0 }));
  t.is(h as string, 'c4911b68189b403f47269ddc139b4edaefd8e7ddd18c4510abef22a9d1bbc9c8');
  t.is(deriveSeed(0, h), 2601372841);
  // The same value by hand: sha256(canonical JSON), then sha256(["0", hash]) read as uint32 LE.
  t.is(h as string, createHash('sha256').update('{"inputs":{},"kind":"numbers","params":{"n":4,"start":0},"seed":0,"version":"1"}').digest('hex'));
  t.is(deriveSeed(0, h, 0), deriveSeed(0, h, 0));
  t.not(deriveSeed(0, h, 0), deriveSeed(0, h, 1));
  t.not(deriveSeed(0, h), deriveSeed(1, h));
});

test('loading the same config twice gives the same hashes; defaults are applied before hashing', async (t) => {
  const a = await hashes(BASE);
  t.deepEqual(a, await hashes(BASE));
  // `start: 0` is the default: writing it out changes nothing.
  t.deepEqual(a, await hashes(BASE.replace('{n: 4}', '{n: 4, start: 0}')));
  t.is(new Set(Object.values(a)).size, 4);
});

test('experiment and stage names are not in the hash', async (t) => {
  const a = await hashes(BASE);
  const b = await hashes(BASE.replace('name: h', 'name: other-name').replace('  data: ', '  numbers_in: ').replace('{data: data}', '{data: numbers_in}'));
  t.is(a.data, b.numbers_in);
  t.is(a.squares, b.squares);
  t.is(a.total, b.total);
});

test('a changed param re-hashes that stage and what depends on it, nothing upstream', async (t) => {
  const a = await hashes(BASE);
  const mid = await hashes(BASE, registry(), ['stages.squares.params.sleepMs=5']);
  t.is(mid.data, a.data);
  t.is(mid.other, a.other);
  t.not(mid.squares, a.squares);
  t.not(mid.total, a.total);
  const down = await hashes(BASE, registry(), ['stages.total.params.scale=2']);
  t.deepEqual({ ...down, total: a.total }, a);
  t.not(down.total, a.total);
});

test('a changed kind version invalidates that kind (and its consumers) only', async (t) => {
  const a = await hashes(BASE);
  const b = await hashes(BASE, registry([numbers, { ...square, version: '2' } as StageKind, total]));
  t.is(b.data, a.data);
  t.is(b.other, a.other);
  t.not(b.squares, a.squares);
  t.not(b.total, a.total, 'total reads the new squares');
});

test('the seed in force is part of the hash: experiment seed, or a stage\'s own seed', async (t) => {
  const a = await hashes(BASE);
  const reseeded = await hashes(BASE.replace('seed: 3', 'seed: 4'));
  t.not(reseeded.data, a.data);
  const own = await hashes(BASE.replace("squares: {kind: square,", 'squares: {kind: square, seed: 3,'));
  t.deepEqual(own, a, 'a stage seed equal to the experiment seed is the same instance');
  const other = await hashes(BASE.replace("squares: {kind: square,", 'squares: {kind: square, seed: 9,'));
  t.is(other.data, a.data);
  t.not(other.squares, a.squares);
});
