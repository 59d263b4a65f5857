/**
 * Training speed, through the train kind's own runUnit: seconds per model per epoch of
 * each model kind on one thread (the default backend), and models per minute with all
 * cores (one worker thread per core, each with its own backend, as the engine runs
 * units). Workload: mnist, 5000 train digits, masks of α = 0.5 (2500 examples per
 * model), batch 64, sgd with momentum. Prints markdown for BENCHMARKS.md.
 *
 *     npm run bench:train              (node --import tsx bench/train.ts)
 *     npm run bench:train -- --quick   (fewer epochs and models: a smoke test)
 *
 * The machine is shared with other work: check `uptime` first and rerun when the load
 * is low (the figures scale with the CPU share the benchmark gets).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { paramsSchema, type Artifact, type StageHash, type UnitContext, type UnitKind } from '../pipeline/registry.ts';
import { initBackend } from '../lib/backend.ts';
import { dataset } from '../stages/dataset.ts';
import { createNetwork } from '../lib/models/index.ts';
import { deriveSeed, Rng } from '../lib/random/rng.ts';
import { subsets } from '../stages/subsets.ts';
import { train } from '../stages/train.ts';
import { runStage } from '../tests/helpers/run-stage.ts';
import { builtins } from '../tests/helpers/builtins.ts';
import { MODEL_KINDS } from '../stages/extensions.ts';

/** The built-in kinds, data sources and model kinds, as the engine's workers have them. */
const registry = builtins();

const quick = process.argv.includes('--quick');
const BACKEND = process.env.ATTRIB_BENCH_BACKEND ?? 'auto';
const sgd = { kind: 'sgd', lr: 0.05, momentum: 0.9 };

/** Model kinds timed on one thread, with the epochs each is timed for. */
const KINDS = [
  { name: 'logreg', model: { kind: 'logreg' }, epochs: quick ? 2 : 10 },
  { name: 'mlp 784-128-10', model: { kind: 'mlp', hidden: [128] }, epochs: quick ? 2 : 10 },
  { name: 'mlp 784-128-128-10', model: { kind: 'mlp', hidden: [128, 128] }, epochs: quick ? 2 : 10 },
  { name: 'cnn 16-32 conv, 128 dense', model: { kind: 'cnn', channels: [16, 32], hidden: [128] }, epochs: quick ? 1 : 3 },
];

/** The throughput workload: what an LDS ground truth trains ~100 of. */
const THROUGHPUT = [
  { name: 'mlp 784-128-10, 10 epochs', model: { kind: 'mlp', hidden: [128] }, epochs: quick ? 2 : 10 },
  { name: 'logreg, 10 epochs', model: { kind: 'logreg' }, epochs: quick ? 2 : 10 },
];

interface Job {
  params: unknown;
  inputs: Record<string, Artifact>;
  units: number[];
  dir: string;
}

interface UnitResult {
  seconds: number;
  secondsPerEpoch: number;
  testAccuracy: number;
}

/** Runs train units in this thread exactly as a worker of the engine would. */
async function runUnits(job: Job): Promise<UnitResult[]> {
  const kind = train as UnitKind;
  const params = paramsSchema(kind, registry).parse(job.params);
  const hash = 'bench'.padEnd(64, '0') as StageHash;
  const out: UnitResult[] = [];
  for (const index of job.units) {
    const outDir = join(job.dir, `unit-${index}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`);
    mkdirSync(outDir, { recursive: true });
    const ctx: UnitContext = {
      params, inputs: job.inputs, hash, seed: deriveSeed(0, hash, index), backend: BACKEND, dir: job.dir, outDir,
      log: () => {}, registry, index, count: Math.max(...job.units) + 1, progress: () => {},
    };
    const outcome = await kind.runUnit(ctx);
    const m = outcome?.metrics ?? {};
    out.push({ seconds: m.seconds as number, secondsPerEpoch: m.secondsPerEpoch as number, testAccuracy: m.testAccuracy as number });
    rmSync(outDir, { recursive: true, force: true });
  }
  return out;
}

function inWorker(job: Job): Promise<UnitResult[]> {
  return new Promise((resolve, reject) => {
    // A worker does not inherit `--import tsx`: register it first, then load this file.
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`;
    const worker = new Worker(boot, { eval: true, workerData: job });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);

async function main(): Promise<void> {
  const backend = await initBackend(BACKEND);
  const threads = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'attrib-bench-train-'));
  const data = await runStage(dataset, { params: { source: 'mnist', train: 5000, test: 500 }, dir: join(dir, 'data') });
  const perWorker = quick ? 1 : 3;
  const masks = await runStage(subsets, { params: { count: Math.max(threads * perWorker, 4), alpha: 0.5 }, inputs: { data }, dir: join(dir, 'masks') });
  const inputs = { data, masks };
  const lines: string[] = [];
  const say = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  say(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start; backend ${backend.name} (${backend.reason}); ${new Date().toISOString().slice(0, 10)}.`);
  say();
  say('One thread, one model on 2500 mnist examples, batch 64, sgd + momentum:');
  say();
  say('| model | params | s / epoch (wall) | CPU s / epoch | s / model, 10 epochs (wall) | test acc. after timed epochs |');
  say('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const k of KINDS) {
    const params = { model: k.model, fit: { epochs: k.epochs, batchSize: 64, optimizer: sgd } };
    const cpu0 = process.cpuUsage();
    const [r] = await runUnits({ params, inputs, units: [0], dir });
    const cpu = process.cpuUsage(cpu0);
    // CPU time of the whole unit (evaluation and saving included) per epoch: robust to a shared machine's load.
    const cpuPerEpoch = (cpu.user + cpu.system) / 1e6 / k.epochs;
    say(`| ${k.name} | ${paramsOf(k.model)} | ${fmt(r.secondsPerEpoch)} | ${fmt(cpuPerEpoch)} | ${fmt(r.secondsPerEpoch * 10, 1)} | ${(100 * r.testAccuracy).toFixed(1)}% (${k.epochs} ep.) |`);
  }
  say();
  say(`Models per minute, ${threads} worker threads (one backend each) against 1, ${perWorker} model(s) per thread:`);
  say();
  say('| workload | 1 thread | all threads | speed-up |');
  say('| --- | ---: | ---: | ---: |');
  for (const w of THROUGHPUT) {
    const params = { model: w.model, fit: { epochs: w.epochs, batchSize: 64, optimizer: sgd } };
    const t1 = performance.now();
    await inWorker({ params, inputs, units: Array.from({ length: perWorker }, (_, i) => i), dir });
    const one = perWorker / ((performance.now() - t1) / 60000);
    const t2 = performance.now();
    await Promise.all(Array.from({ length: threads }, (_, t) => inWorker({ params, inputs, units: Array.from({ length: perWorker }, (_, i) => t * perWorker + i), dir })));
    const all = (threads * perWorker) / ((performance.now() - t2) / 60000);
    say(`| ${w.name} | ${fmt(one, 1)} | ${fmt(all, 1)} | ${fmt(all / one)}× |`);
  }
  say();
  say(`Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}.`);
  rmSync(dir, { recursive: true, force: true });
}

function paramsOf(model: { kind: string }): number {
  const net = createNetwork(registry.extensions(MODEL_KINDS), model, { featureShape: [28, 28, 1], classes: 10 }, Rng.from('bench'));
  const n = net.numParams;
  net.dispose();
  return n;
}

if (isMainThread) {
  await main();
} else {
  parentPort!.postMessage(await runUnits(workerData as Job));
}
