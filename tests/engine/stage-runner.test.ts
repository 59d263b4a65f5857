/**
 * The StageRunner contract of execute() (what the slurm executor implements), checked
 * without a cluster: an in-process runner that, like SLURM with afterok, is handed every
 * stage up front and runs each once its upstream stages are done, writing the manifests
 * itself (countUnits, performTask, finishStage).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { EXECUTORS, Registry, runConfig, type Executor, type ExecutorFactory, type RunEvent, type StageRunner, type StageToRun } from '../../index.ts';
import { countUnits, finishStage, performTask } from '../../pipeline/task.ts';
import type { StageHash } from '../../pipeline/registry.ts';
import type { Manifest } from '../../pipeline/store.ts';
import { FIXTURES, runJson, tmp } from './helpers.ts';

function dagExecutor(submitted: StageToRun[][]): ExecutorFactory {
  return {
    name: 'dag',
    description: 'runs the whole DAG in-process, like a cluster with afterok dependencies',
    create({ registry, store }) {
      const done = new Map<StageHash, Promise<Manifest>>();
      const runner: Executor & StageRunner = {
        name: 'dag',
        run: () => Promise.reject(new Error('a stage runner is never handed single tasks')),
        close: async () => {},
        async submitStages(stages, log) {
          submitted.push([...stages]);
          for (const s of stages) {
            const upstream = s.upstream.map((h) => done.get(h)!);
            const job = Promise.all(upstream).then(async () => {
              if (s.hasUnits) {
                const n = await countUnits(registry, store, s.hash);
                for (let i = 0; i < n; i++) await performTask(registry, store, { step: 'unit', hash: s.hash, index: i });
              }
              return finishStage(registry, store, s.hash, 'test');
            });
            job.catch(() => {});
            done.set(s.hash, job);
            log(s.hash, 'submitted');
          }
        },
        async awaitStage(hash, hooks) {
          hooks.started();
          return done.get(hash)!;
        },
      };
      return runner;
    },
  };
}

test('a stage runner gets every stage to compute up front, upstream first, and its manifests are the results', async (t) => {
  const submitted: StageToRun[][] = [];
  const registry = new Registry();
  registry.register(EXECUTORS, 'dag', dagExecutor(submitted));
  const runsDir = tmp();
  const events: RunEvent[] = [];
  const result = await runConfig(join(FIXTURES, 'toy.yaml'), { registry, runsDir, executor: 'dag', onEvent: (e) => events.push(e) });
  if (!result.ok) return t.fail(JSON.stringify(result.errors));
  t.true(result.value.ok);

  const run = runJson(runsDir, 'toy');
  const label = new Map(Object.entries(run).map(([name, r]) => [r.hash, name]));
  t.is(submitted.length, 1);
  t.deepEqual(
    submitted[0]!.map((s) => [s.label, s.hasUnits, s.upstream.map((h) => label.get(h))]),
    [
      ['data', false, []],
      ['squares', true, ['data']],
      ['total', false, ['squares']],
      ['other', false, []],
    ],
  );
  t.is(run.total!.metrics.total, 55);
  t.true(events.some((e) => e.type === 'log' && e.stage === 'squares' && e.message === 'submitted'));
  // The runner's finishStage wrote the manifest: units counted, unit seconds summed.
  const manifest = JSON.parse(readFileSync(join(runsDir, 'store', run.squares!.hash, 'manifest.json'), 'utf8'));
  t.is(manifest.units, 6);
  const unitSeconds = Array.from({ length: 6 }, (_, i) => JSON.parse(readFileSync(join(runsDir, 'store', run.squares!.hash, 'units', String(i), 'unit.json'), 'utf8')).seconds as number);
  t.true(unitSeconds.every((s) => s >= 0.02), `each unit sleeps 20 ms: ${unitSeconds}`);
  t.true(manifest.metrics.seconds >= unitSeconds.reduce((a, b) => a + b, 0) - 0.01);

  // Everything cached: nothing is handed over again.
  const again = await runConfig(join(FIXTURES, 'toy.yaml'), { registry, runsDir, executor: 'dag' });
  t.true(again.ok && [...again.value.results.values()].every((r) => r.status === 'cached'));
  t.deepEqual(submitted[1], []);

  // --force on one stage: it and what depends on it, nothing upstream.
  const forced = await runConfig(join(FIXTURES, 'toy.yaml'), { registry, runsDir, executor: 'dag', force: ['squares'] });
  t.true(forced.ok && forced.value.ok);
  t.deepEqual(submitted[2]!.map((s) => [s.label, s.forced]), [['squares', true], ['total', true]]);
});

test('a stage the runner fails blocks its dependents, which it is not asked to wait for', async (t) => {
  const submitted: StageToRun[][] = [];
  const registry = new Registry();
  registry.register(EXECUTORS, 'dag', dagExecutor(submitted));
  const runsDir = tmp();
  const result = await runConfig(join(FIXTURES, 'toy.yaml'), { registry, runsDir, executor: 'dag', set: ['stages.squares.params.failAt=2'] });
  if (!result.ok) return t.fail(JSON.stringify(result.errors));
  t.false(result.value.ok);
  const run = runJson(runsDir, 'toy');
  t.is(run.squares!.status, 'failed');
  t.is(run.squares!.error, 'toy failure at unit 2');
  t.is(run.total!.status, 'blocked');
  t.is(run.other!.status, 'ran');
});
