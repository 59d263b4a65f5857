/**
 * Critical path first (pipeline/schedule.ts): with one slot, the order tasks reach the
 * executor is fixed by priorities alone, so it is asserted exactly (no timing). `wide`
 * stands for the ground-truth models (many units, one stage from a result), `a` → `a_total`
 * for the TRAK branch (a longer chain); `wide` comes first in the config, so first come,
 * first served would run it first.
 */
import test from 'ava';
import { EXECUTORS, Registry, runConfig, type ExecutorFactory } from '../../index.ts';
import { inlineExecutor } from '../../pipeline/executors/inline/index.ts';
import { chainLengths, PrioritySlots } from '../../pipeline/schedule.ts';
import { planExperiment } from '../../pipeline/plan.ts';
import { loadConfig } from '../../pipeline/config.ts';
import type { Task } from '../../pipeline/task.ts';
import { runJson, tmp, writeConfig } from './helpers.ts';

const CONFIG = `
name: order
seed: 1
plugins: [PLUGIN]
stages:
  data:    {kind: numbers, params: {n: 3}}
  wide:    {kind: square, inputs: {data: data}, params: {tag: wide}}
  a:       {kind: square, inputs: {data: data}, params: {tag: a}}
  a_total: {kind: total, inputs: {squares: a}}
`;

/** The inline executor, recording each task as it starts. */
function recording(order: Task[]): ExecutorFactory {
  return {
    name: 'recording',
    description: 'inline, recording the order tasks start in',
    create(env) {
      const inner = inlineExecutor.create(env);
      return { name: 'recording', run: (task, hooks) => (order.push(task), inner.run(task, hooks)), close: () => inner.close() };
    },
  };
}

test('the longest chain to a result runs first, and its stage-ending steps are not queued behind other units', async (t) => {
  const dir = tmp();
  const order: Task[] = [];
  const registry = new Registry();
  registry.register(EXECUTORS, 'recording', recording(order));
  const result = await runConfig(writeConfig(dir, CONFIG), { registry, runsDir: dir, executor: 'recording', jobs: 1 });
  if (!result.ok) return t.fail(JSON.stringify(result.errors));
  t.true(result.value.ok);
  const name = new Map(Object.entries(runJson(dir, 'order')).map(([stage, r]) => [r.hash, stage]));
  t.deepEqual(
    order.map((task) => `${name.get(task.hash)} ${task.step}${task.step === 'unit' ? ` ${task.index}` : ''}`),
    [
      'data run',
      // Both counts first (cheap; they size the work), then a's whole branch.
      'wide count',
      'a count',
      'a unit 0',
      'a unit 1',
      'a unit 2',
      'a combine',
      'a_total run',
      'wide unit 0',
      'wide unit 1',
      'wide unit 2',
      'wide combine',
    ],
  );
});

test('chain lengths count the stages on the longest path through a stage, first to last', async (t) => {
  const dir = tmp();
  const registry = new Registry();
  const loaded = await loadConfig(writeConfig(dir, CONFIG), { registry });
  if (!loaded.ok) return t.fail(JSON.stringify(loaded.errors));
  const plan = planExperiment(loaded.value.experiments[0]!);
  const chains = chainLengths([plan]);
  t.deepEqual(Object.fromEntries(plan.instances.map((i) => [i.name, chains.get(i.hash)])), { data: 3, wide: 2, a: 3, a_total: 3 });
});

test('a hold keeps lower priorities out of free slots until released; ties go first come first served', async (t) => {
  const slots = new PrioritySlots(2);
  const started: string[] = [];
  const task = (name: string) => async () => void started.push(name);
  const release = slots.hold(5);
  const low = [slots.run(1, task('low 1')), slots.run(1, task('low 2'))];
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, [], 'held: nothing below 5 starts');
  const high = slots.run(5, task('high'));
  await high;
  t.deepEqual(started, ['high']);
  release();
  await Promise.all(low);
  t.deepEqual(started, ['high', 'low 1', 'low 2']);
});
