/**
 * The datamodels regression's cost against the number of models N: one block of targets
 * through lib/evaluation/lasso.ts lassoBlock (the held-out path, then the refit), as the
 * `datamodels` stage runs each of its units, with and without strong-rule screening.
 * Prints a markdown table: seconds per target (wall, and process CPU), FISTA
 * iterations, λ values visited, and the share of the 5000 features the solves ran on
 * (screening's saving per iteration, independent of the machine).
 *
 *     node --import tsx bench/datamodels.ts                        N = 100, 300, 1000, 3000
 *     node --import tsx bench/datamodels.ts --n 100,300 --targets 10 --screening on
 *     node --import tsx bench/datamodels.ts --entry runs/store/<hash of a train stage>
 *
 * Responses: by default a planted sparse linear map of the masks plus noise, sized like
 * MNIST-10 logistic regression (n = 5000 train examples, α = 0.5, 100 nonzero weights
 * per target, noise for a held-out R² near 0.2, about what the real regression reaches), so it needs no
 * trained models. With --entry, the real margins of a finished train stage (its first N
 * models, as `datamodels` with `models: N` uses them) and its masks.
 *
 * The stage's time for T targets is about T × the per-target seconds here divided by
 * the workers (blocks of targets are its work units). The machine is shared: check
 * `uptime` first; the table records the load average at the start and the end.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { MASKS, MODELS } from '../lib/artifacts.ts';
import { initBackend } from '../lib/backend.ts';
import { marginsPerMask } from '../lib/evaluation/linear-datamodeling.ts';
import { lassoBlock } from '../lib/evaluation/lasso.ts';
import { readNpy } from '../lib/io/npy.ts';
import { Rng } from '../lib/random/rng.ts';
import { drawMask } from '../stages/subsets.ts';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const counts = (option('n') ?? '100,300,1000,3000').split(',').map(Number);
const B = Number(option('targets') ?? 50);
const screeningModes = { on: [true], off: [false], both: [false, true] }[option('screening') ?? 'both'];
const entry = option('entry');
const n = 5000;
const BACKEND = process.env.ATTRIB_BENCH_BACKEND ?? 'auto';
if (!screeningModes || counts.some((c) => !Number.isInteger(c) || c < 10) || !(B > 0)) {
  console.error('usage: bench/datamodels.ts [--n 100,300,...] [--targets B] [--screening on|off|both] [--entry STORE_ENTRY]');
  process.exit(2);
}

/** Masks [N, nTrain] and responses [N, B] (row k = every target's margin on mask k). */
function planted(N: number): { masks: Uint8Array; y: Float32Array; nTrain: number } {
  const masks = new Uint8Array(N * n);
  for (let k = 0; k < N; k++) masks.set(drawMask(Rng.from('bench-datamodels', 'mask', k), n, 0.5, 'exact'), k * n);
  const rng = Rng.from('bench-datamodels', 'weights');
  const w = new Float32Array(B * n);
  for (let j = 0; j < B; j++) for (const i of rng.permutation(n).subarray(0, 100)) w[j * n + i] = 0.05 * rng.normal();
  const y = new Float32Array(N * B);
  const noise = Rng.from('bench-datamodels', 'noise');
  for (let k = 0; k < N; k++) {
    for (let j = 0; j < B; j++) {
      let f = 2;
      for (let i = 0; i < n; i++) if (masks[k * n + i]) f += w[j * n + i]!;
      y[k * B + j] = f + 0.5 * noise.normal();
    }
  }
  return { masks, y, nTrain: n };
}

/** The first N models of a finished train stage, as `datamodels` with `models: N` reads them. */
function fromEntry(dir: string, N: number): { masks: Uint8Array; y: Float32Array; nTrain: number } {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { inputs: Record<string, string> };
  const masksDir = join(dir, '..', manifest.inputs.masks!);
  const all = readNpy(join(masksDir, MASKS.masks));
  const nTrain = all.shape[1]!;
  const margins = readNpy(join(dir, MODELS.marginsTest));
  const [nModels, nTest] = margins.shape as [number, number];
  if (N > nModels) throw new Error(`${dir} holds ${nModels} models, not ${N}`);
  const maskOf = readNpy(join(dir, MODELS.maskOf)).data as Int32Array;
  let nMasks = 0;
  for (let m = 0; m < N; m++) nMasks = Math.max(nMasks, maskOf[m]! + 1);
  const targets = Int32Array.from({ length: Math.min(B, nTest) }, (_, j) => j);
  const { truth } = marginsPerMask(margins.data as Float32Array, N, nTest, maskOf, nMasks, targets);
  const y = new Float32Array(nMasks * targets.length);
  for (let j = 0; j < targets.length; j++) for (let k = 0; k < nMasks; k++) y[k * targets.length + j] = truth[j * nMasks + k]!;
  return { masks: (all.data as Uint8Array).slice(0, nMasks * nTrain), y, nTrain };
}

const backend = await initBackend(BACKEND);
const started = new Date();
const loadBefore = loadavg()[0]!;
const rows: string[][] = [];
for (const N of counts) {
  const { masks, y, nTrain } = entry ? fromEntry(entry, N) : planted(N);
  const rowsN = masks.length / nTrain;
  const targets = y.length / rowsN;
  const heldOut = Rng.from('bench-datamodels', 'held-out', N).permutation(rowsN).subarray(0, Math.max(1, Math.round(0.1 * rowsN)));
  for (const screening of screeningModes) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = lassoBlock(masks, rowsN, nTrain, y, targets, heldOut, { screening });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    let nonzeros = 0;
    for (const c of r.nonzeros) nonzeros += c;
    rows.push([
      String(N),
      screening ? 'on' : 'off',
      (wall / targets).toFixed(3),
      ((cpu.user + cpu.system) / 1e6 / targets).toFixed(3),
      String(r.iterations),
      String(r.pathVisited),
      `${(100 * r.featuresSolved).toFixed(1)}%`,
      (nonzeros / targets).toFixed(0),
    ]);
    console.error(`N = ${N}, screening ${screening ? 'on' : 'off'}: ${wall.toFixed(1)} s for ${targets} targets`);
  }
}
const loadAfter = loadavg()[0]!;
console.log(
  `datamodels regression, ${entry ? `margins of ${entry}` : `planted responses, n = ${n}`}, ${B} targets per block, backend ${backend.name}; ` +
    `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}\n`,
);
console.log('| N models | screening | s / target (wall) | CPU s / target | FISTA iterations | λ visited | features solved on | nonzeros / target |');
console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
