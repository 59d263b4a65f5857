/**
 * The numeric kernels, timed: matMul on every installed tfjs backend, projector
 * throughput, Gram, Cholesky and solves, and the same operations in numpy (through
 * /usr/bin/python3 when it has numpy) as a ratio. Prints markdown for BENCHMARKS.md.
 *
 *     npm run bench:kernels            (node --import tsx bench/kernels.ts)
 *     npm run bench:kernels -- --quick (small sizes: a smoke test in seconds)
 *     --wall: wall-clock instead of CPU seconds; --reference: also time the plain-JS Cholesky
 *
 * Figures are the best of a few repetitions after one untimed warm-up. The machine is
 * shared: check `uptime` first and rerun when the load is low.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initBackend, tf, type BackendName } from '../lib/backend.ts';
import { cholesky, choleskyBasic, GramAccumulator, matmul64, ridgeInverse, spdSolve } from '../lib/linalg/index.ts';
import { createProjector, type LayerFactors, type LayerShape } from '../lib/projectors/index.ts';
import { Rng } from '../lib/random/rng.ts';

const quick = process.argv.includes('--quick');
const PYTHON = '/usr/bin/python3';

/**
 * CPU seconds of this process (user + system) by default: everything timed here runs on
 * one thread (tfjs-wasm runs no threads in Node; linalg is single-threaded), so CPU time
 * is what the wall clock shows on an idle machine, and it stays meaningful on a shared,
 * busy one. `--wall` times the wall clock instead.
 */
const useWall = process.argv.includes('--wall');
function now(): number {
  if (useWall) return performance.now() / 1000;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Best of `reps` timed runs after one untimed warm-up (the first call of a kernel pays for
 * allocation and operator set-up); reps = 0 times the first run itself. Only `fn` is
 * timed: inputs are made before, outside it.
 */
function seconds(fn: () => void, reps = 3): number {
  const t0 = now();
  fn();
  let best = reps === 0 ? now() - t0 : Infinity;
  for (let r = 0; r < reps; r++) {
    const t = now();
    fn();
    best = Math.min(best, now() - t);
  }
  return best;
}

const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const lines: string[] = [];
const goals: string[] = [];
function say(line = ''): void {
  lines.push(line);
  console.log(line);
}

function machine(): string {
  const model = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `${cpus().length} cores, ${model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}, tfjs-core ${tf.version_core}; load average at start ${load}`;
}

interface Numpy {
  numpy: string;
  blas: string;
  matmul: Record<string, number>;
  matmulTall: number;
  gram: number;
  cholesky: number;
  solve1: number;
  solve512: number;
  solveK: number;
}

function numpy(): Numpy | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  // One OpenBLAS thread, timed in CPU seconds like the JS side: a per-core comparison that
  // a busy machine does not distort (with both cores numpy is up to 2x faster in wall time).
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!useWall) env.OPENBLAS_NUM_THREADS = '1';
  // Tuning variables meant for another machine would skew OpenBLAS here.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const script = fileURLToPath(new URL('kernels.py', import.meta.url));
  const r = spawnSync(PYTHON, [script, ...(quick ? ['--quick'] : []), ...(useWall ? ['--wall'] : [])], { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return `numpy side failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout) as Numpy;
}


/**
 * One product and its read-back into JS (dataSync), as a caller would use it: what the
 * matMul rows time. The read-back stays inside the tidy callback, which returns nothing:
 * `tf.tidy(() => c.dataSync())` would hand the Float32Array to tidy, which scans its
 * return value for tensors key by key (for..in over every element, each value added to a
 * Set): 1.4 s for a 1024² result against 0.1 s for the product itself, and what made these
 * rows read 1-2.6 GFLOP/s before.
 */
function product(f: () => tf.Tensor): () => void {
  return () => tf.tidy(() => {
    f().dataSync();
  });
}

async function matmuls(np: Numpy | undefined): Promise<{ wasmBest: number; defaultName: BackendName }> {
  const auto = await initBackend('auto');
  say(`### matMul (float32), GFLOP/s`);
  say();
  say(`Default backend here: **${auto.name}** (${auto.reason}).`);
  say();
  say(`| backend | ${(quick ? [256, 512] : [512, 1024, 2048]).map((n) => `${n}²`).join(' | ')} | ${quick ? '2000×512·512×128' : '20000×4096·4096×512'} |`);
  say(`|---|${(quick ? [1, 2] : [1, 2, 3]).map(() => '---').join('|')}|---|`);
  let wasmBest = 0;
  const rates = new Map<string, Map<number, number>>();
  const candidates: BackendName[] = ['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'];
  for (const name of candidates) {
    try {
      await initBackend(name);
    } catch (e) {
      say(`| ${name} | not available: ${(e as Error).message.replace(/\|/g, '/')} |`);
      continue;
    }
    const cells: string[] = [];
    for (const n of quick ? [256, 512] : [512, 1024, 2048]) {
      if (name === 'cpu' && n > 512) {
        cells.push('skipped (too slow)');
        continue;
      }
      const a = tf.randomNormal([n, n]);
      const b = tf.randomNormal([n, n]);
      const s = seconds(product(() => tf.matMul(a, b)), name === 'cpu' ? 1 : 3);
      a.dispose();
      b.dispose();
      const g = (2 * n ** 3) / s / 1e9;
      if (name === 'wasm') wasmBest = Math.max(wasmBest, g);
      if (!rates.has(name)) rates.set(name, new Map());
      rates.get(name)!.set(n, g);
      cells.push(f1(g));
    }
    if (name === 'cpu') cells.push('skipped');
    else {
      const [m, k, n] = quick ? [2000, 512, 128] : [20000, 4096, 512];
      const a = tf.randomNormal([m, k]);
      const b = tf.randomNormal([k, n]);
      const s = seconds(product(() => tf.matMul(a, b)), 2);
      a.dispose();
      b.dispose();
      const g = (2 * m * k * n) / s / 1e9;
      if (name === 'wasm') wasmBest = Math.max(wasmBest, g);
      cells.push(f1(g));
    }
    say(`| ${name} | ${cells.join(' | ')} |`);
  }
  if (np) {
    say(`| numpy (${np.blas}) | ${Object.values(np.matmul).map(f1).join(' | ')} | ${f1(np.matmulTall)} |`);
  }
  say();
  await initBackend('auto');
  // The transposed-matMul trap, on the default backend.
  const n = quick ? 256 : 1024;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  // Plain AB and AᵀB with an explicit transpose are timed in alternation (best of 3 rounds,
  // each with its own warm-up), so their ratio compares runs made under the same load.
  let plain = Infinity;
  let explicit = Infinity;
  for (let r = 0; r < 3; r++) {
    plain = Math.min(plain, seconds(product(() => tf.matMul(a, b)), 1));
    explicit = Math.min(explicit, seconds(product(() => tf.matMul(tf.transpose(a), b)), 1));
  }
  const flag = seconds(product(() => tf.matMul(a, b, true, false)), 1);
  a.dispose();
  b.dispose();
  const gf = (s: number) => f1((2 * n ** 3) / s / 1e9);
  // Goal: what stages/ get from the default backend (AᵀB with an explicit transpose) within
  // 1.3x of the best plain wasm matMul at the same size; when the default is wasm, against
  // the plain AB timed alongside it rather than the table's, taken minutes earlier.
  const wasmAtN = auto.name === 'wasm' ? (2 * n ** 3) / plain / 1e9 : rates.get('wasm')?.get(n) ?? NaN;
  const defaultAtN = (2 * n ** 3) / explicit / 1e9;
  const slow = wasmAtN / defaultAtN;
  goals.push(`matMul on the default backend (${auto.name}) within 1.3x of the best wasm does: at ${n}², AᵀB as stages/ run it (explicit transpose) ${f1(defaultAtN)} GFLOP/s vs plain wasm AB ${f1(wasmAtN)} GFLOP/s: ${f1(slow)}x slower: ${slow <= 1.3 ? 'met' : 'NOT met'} (the transposeA flag would be ${f1(wasmAtN / ((2 * n ** 3) / flag / 1e9))}x slower)`);
  say(`Transposes at ${n}² on ${auto.name}: AᵀB with \`transposeA\` ${gf(flag)} GFLOP/s, with an explicit \`tf.transpose\` first ${gf(explicit)} GFLOP/s, plain AB ${gf(plain)} GFLOP/s (explicit transposes are what stages/ use).`);
  say();
  return { wasmBest, defaultName: auto.name };
}

function randomFactors(layers: LayerShape[], batch: number): LayerFactors[] {
  const rng = Rng.from('bench', 'factors');
  return layers.map((l) => ({
    a: tf.tensor3d(rng.fillNormal(new Float32Array(batch * l.inDim)), [batch, 1, l.inDim]),
    d: tf.tensor3d(rng.fillNormal(new Float32Array(batch * l.outDim)), [batch, 1, l.outDim]),
  }));
}

function projectors(): void {
  // An MNIST MLP 784-128-10 ([W; b] per layer): p = 101,770 parameters.
  const layers: LayerShape[] = quick
    ? [{ name: 'fc1', inDim: 101, outDim: 64 }, { name: 'fc2', inDim: 65, outDim: 10 }]
    : [{ name: 'fc1', inDim: 785, outDim: 128 }, { name: 'fc2', inDim: 129, outDim: 10 }];
  const p = layers.reduce((s, l) => s + l.inDim * l.outDim, 0);
  const k = quick ? 256 : 2048;
  const batch = quick ? 64 : 256;
  const factors = randomFactors(layers, batch);
  // Dense runs take seconds per batch: time them on a quarter batch (their cost is linear in it).
  const denseBatch = quick ? batch : batch / 4;
  const denseFactors = randomFactors(layers, denseBatch);
  const rate = (proj: ReturnType<typeof createProjector>, reps: number) => batch / seconds(() => proj.project(factors).dispose(), reps);
  const kron = createProjector({ kind: 'kronecker', dim: k, seed: 0 }, layers);
  const kronRate = rate(kron, 5);
  kron.dispose();
  const cached = createProjector({ kind: 'gaussian', dim: k, seed: 0 }, layers, { cacheBytes: 2 ** 31 });
  const denseRate = (proj: ReturnType<typeof createProjector>, reps: number) => denseBatch / seconds(() => proj.project(denseFactors).dispose(), reps);
  const cachedRate = denseRate(cached, 1);
  cached.dispose();
  const regen = createProjector({ kind: 'gaussian', dim: k, seed: 0 }, layers, { cacheBytes: 0 });
  const regenRate = denseRate(regen, 0);
  regen.dispose();
  const rad = createProjector({ kind: 'rademacher', dim: k, seed: 0 }, layers, { cacheBytes: 0 });
  const radRate = denseRate(rad, 0);
  rad.dispose();
  [...factors, ...denseFactors].forEach((f) => (f.a.dispose(), f.d.dispose()));
  say(`### Projectors, examples/s (p = ${p.toLocaleString('en')}, k = ${k}, ${tf.getBackend()}; kronecker in batches of ${batch}, dense in batches of ${denseBatch})`);
  say();
  say(`| projector | examples/s |`);
  say(`|---|---|`);
  say(`| kronecker | ${f1(kronRate)} |`);
  say(`| gaussian, P cached (${((p * k * 4) / 2 ** 20).toFixed(0)} MiB) | ${f1(cachedRate)} |`);
  say(`| gaussian, P regenerated every batch | ${f1(regenRate)} |`);
  say(`| rademacher, P regenerated every batch | ${f1(radRate)} |`);
  say();
  say(`Kronecker vs dense gaussian at equal k: **${f1(kronRate / cachedRate)}x** (P cached), ${f1(kronRate / regenRate)}x (regenerated); goal ≥ 50x.`);
  goals.push(`kronecker ≥ 50x the examples/s of dense gaussian at k = ${k}: ${f1(kronRate / cachedRate)}x against dense with P cached, ${f1(kronRate / regenRate)}x against P regenerated: ${kronRate / cachedRate >= 50 ? 'met' : 'NOT met'}`);
  say();
}

function linalg(np: Numpy | undefined, matmulBest: number): void {
  const [n, k] = quick ? [2000, 256] : [20000, 2048];
  const rng = Rng.from('bench', 'gram');
  const chunkRows = quick ? 500 : 2048;
  const acc = new GramAccumulator(k);
  let gramSeconds = 0;
  for (let r0 = 0; r0 < n; r0 += chunkRows) {
    const rows = Math.min(chunkRows, n - r0);
    const x = rng.fillNormal(new Float32Array(rows * k));
    const t = now();
    acc.add(x, rows);
    gramSeconds += now() - t;
  }
  const g = acc.result();
  const gramGflops = (2 * n * k * k) / gramSeconds / 1e9;

  say(`### Linear algebra (float64 unless noted)`);
  say();
  say(`| operation | seconds | numpy seconds | numpy is faster by |`);
  say(`|---|---|---|---|`);
  const row = (what: string, s: number, npS?: number) => say(`| ${what} | ${f1(s)} | ${npS === undefined ? '' : f1(npS)}${npS === undefined ? ' | ' : ` | ${f1(s / npS)}x`} |`);
  row(`Gram XᵀX, n = ${n}, k = ${k} (float32 tfjs products, float64 sums; ${f1(gramGflops)} GFLOP/s counted as 2nk²)`, gramSeconds, np?.gram);

  const lam = { relative: 0.05 };
  const shifted = Float64Array.from(g);
  const md = shifted.reduce((s, _, i) => (i % (k + 1) === 0 ? s + shifted[i] : s), 0) / k;
  for (let i = 0; i < k; i++) shifted[i * k + i] += 0.05 * md;
  const tChol = seconds(() => cholesky(shifted, k), 2);
  row(`Cholesky, k = ${k}`, tChol, np?.cholesky);
  const b1 = rng.fillNormal(new Float64Array(k));
  row(`factor + solve, 1 right-hand side`, seconds(() => spdSolve(shifted, k, b1, 1), 2), np?.solve1);
  const b512 = rng.fillNormal(new Float64Array(k * 512));
  let x512: Float64Array = new Float64Array(0);
  row(`factor + solve, 512 right-hand sides`, seconds(() => (x512 = spdSolve(shifted, k, b512, 512)), 2), np?.solve512);
  const bk = rng.fillNormal(new Float64Array(k * k));
  const tSolveK = seconds(() => spdSolve(shifted, k, bk, k), 1);
  row(`factor + solve, ${k} right-hand sides`, tSolveK, np?.solveK);
  row(`(G + λI)⁻¹ (ridgeInverse)`, seconds(() => ridgeInverse(g, k, lam), 1));
  if (process.argv.includes('--reference')) row(`Cholesky, plain JS reference (choleskyBasic)`, seconds(() => choleskyBasic(shifted, k), 0));
  const tm = seconds(() => matmul64(shifted, b512, k, k, 512), 1);
  row(`matmul64 ${k}×${k}·${k}×512 (${f1((2 * k * k * 512) / tm / 1e9)} GFLOP/s)`, tm);
  say();
  // Accuracy of the float64 solve: relative residual.
  const r = matmul64(shifted, x512, k, k, 512);
  let num = 0;
  let den = 0;
  for (let i = 0; i < r.length; i++) {
    num += (r[i] - b512[i]) ** 2;
    den += b512[i] ** 2;
  }
  say(`Relative residual ‖AX − B‖/‖B‖ of the 512-RHS solve: ${Math.sqrt(num / den).toExponential(1)}. Goal: factor + solve of a ${k}×${k} system < 5 s: **${f1(tSolveK)} s with ${k} right-hand sides**.`);
  say(`Gram: ${f1(gramGflops)} GFLOP/s counting the full 2nk² (it runs 62.5% of those flops, the upper block triangle, at ${f1(gramGflops * 0.625)} GFLOP/s), against ${f1(matmulBest)} GFLOP/s for the best plain wasm matMul above.`);
  goals.push(`factor + solve of a ${k}×${k} system < 5 s: ${f1(tChol)} s to factor, ${f1(tSolveK)} s to factor and solve ${k} right-hand sides: ${tSolveK < 5 ? 'met' : 'NOT met'}`);
  say();
}

async function main(): Promise<void> {
  await initBackend('auto'); // TF.js loads lazily: machine() reads its version
  say(`## Kernels`);
  say();
  say(`\`npm run bench:kernels\`${quick ? ' -- --quick' : ''}${useWall ? ' -- --wall' : ''} (bench/kernels.ts; numpy side bench/kernels.py), ${new Date().toISOString().slice(0, 10)}. ${machine()}.`);
  say();
  say(useWall ? 'Times are wall-clock seconds.' : 'Times are CPU seconds of one thread (what an idle machine shows as wall time; robust to other load). numpy runs with one OpenBLAS thread, timed the same way: a per-core comparison.');
  say();
  const npOut = numpy();
  const np = typeof npOut === 'string' ? undefined : npOut;
  if (typeof npOut === 'string') say(`numpy: ${npOut}`);
  else say(`numpy ${np!.numpy} with ${np!.blas} (${PYTHON}, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset${useWall ? '' : ', OPENBLAS_NUM_THREADS=1'}).`);
  say();
  const { wasmBest, defaultName } = await matmuls(np);
  say(`Best wasm matMul: ${f1(wasmBest)} GFLOP/s; default backend ${defaultName}${np ? `; numpy/OpenBLAS best ${f1(Math.max(np.matmulTall, ...Object.values(np.matmul)))} GFLOP/s` : ''}.`);
  say();
  projectors();
  linalg(np, wasmBest);
  say(`### Goals`);
  say();
  for (const g of goals) say(`- ${g}`);
}

await main();
