/**
 * Test helpers for the attribution kinds: hand-made `features` artifacts and an
 * independent float64 reference (Gaussian elimination with partial pivoting, so the
 * tests never share the Cholesky code they check).
 */
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, StageHash, StageKind } from '../../pipeline/registry.ts';
import { hasUnits, paramsSchema } from '../../pipeline/registry.ts';
import { DATASET, FEATURES, MODELS, type DatasetMeta } from '../../lib/artifacts.ts';
import { writeNpy } from '../../lib/io/npy.ts';
import { createNetwork } from '../../lib/models/index.ts';
import type { Network } from '../../lib/models/types.ts';
import { Rng } from '../../lib/random/rng.ts';
import { runStage, tempDir } from '../helpers/run-stage.ts';
import { builtinModels, builtins } from '../helpers/builtins.ts';

export interface HandFeatures {
  /** Per model, [n, k] row-major. */
  train: Float64Array[];
  /** Per model, [m, k]. */
  targets: Float64Array[];
  /** Per model, [n]. */
  probs: Float64Array[];
  n: number;
  m: number;
  k: number;
  targetIndex?: Int32Array;
  projector?: 'gaussian' | 'identity';
}

export function randomFeatures(seed: string, S: number, n: number, m: number, k: number): HandFeatures {
  const rng = Rng.from('test-features', seed);
  const gen = (len: number) => Float64Array.from({ length: len }, () => rng.normal());
  return {
    train: Array.from({ length: S }, () => gen(n * k)),
    targets: Array.from({ length: S }, () => gen(m * k)),
    probs: Array.from({ length: S }, () => Float64Array.from({ length: n }, () => 0.05 + 0.9 * rng.uniform())),
    n,
    m,
    k,
  };
}

/** Writes the FEATURES layout and returns the Artifact linearize would have produced. */
export function featuresArtifact(f: HandFeatures, dir = tempDir('attrib-features-')): Artifact {
  mkdirSync(dir, { recursive: true });
  const S = f.train.length;
  for (let s = 0; s < S; s++) {
    writeNpy(join(dir, FEATURES.train(s)), Float32Array.from(f.train[s]), [f.n, f.k]);
    writeNpy(join(dir, FEATURES.targets(s)), Float32Array.from(f.targets[s]), [f.m, f.k]);
  }
  const probs = new Float32Array(S * f.n);
  f.probs.forEach((p, s) => probs.set(Float32Array.from(p), s * f.n));
  writeNpy(join(dir, FEATURES.probsTrain), probs, [S, f.n]);
  const targetIndex = f.targetIndex ?? Int32Array.from({ length: f.m }, (_, j) => j);
  writeNpy(join(dir, FEATURES.targetIndex), targetIndex);
  const projector = { kind: f.projector ?? 'gaussian', dim: f.k, seed: 0 };
  writeFileSync(
    join(dir, FEATURES.meta),
    JSON.stringify({ models: S, k: f.k, projector, nTrain: f.n, nTargets: f.m, layers: [{ name: 'hand', inDim: f.k, outDim: 1 }], params: f.k }),
  );
  return { kind: 'features', stageKind: 'linearize', hash: `hand-${Math.random()}` as StageHash, dir, params: { projector }, metrics: {}, units: 0, inputs: {} };
}

/** Solves A X = B (A [k, k], B [k, c]) in float64 by Gaussian elimination with partial pivoting. */
export function solve(a: Float64Array, b: Float64Array, k: number, c: number): Float64Array {
  const A = Float64Array.from(a);
  const B = Float64Array.from(b);
  for (let col = 0; col < k; col++) {
    let piv = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(A[r * k + col]) > Math.abs(A[piv * k + col])) piv = r;
    if (piv !== col) {
      for (let j = 0; j < k; j++) [A[col * k + j], A[piv * k + j]] = [A[piv * k + j], A[col * k + j]];
      for (let j = 0; j < c; j++) [B[col * c + j], B[piv * c + j]] = [B[piv * c + j], B[col * c + j]];
    }
    for (let r = col + 1; r < k; r++) {
      const f = A[r * k + col] / A[col * k + col];
      if (f === 0) continue;
      for (let j = col; j < k; j++) A[r * k + j] -= f * A[col * k + j];
      for (let j = 0; j < c; j++) B[r * c + j] -= f * B[col * c + j];
    }
  }
  for (let col = k - 1; col >= 0; col--) {
    for (let j = 0; j < c; j++) {
      let s = B[col * c + j];
      for (let q = col + 1; q < k; q++) s -= A[col * k + q] * B[q * c + j];
      B[col * c + j] = s / A[col * k + col];
    }
  }
  return B;
}

/** [n, k] → [k, k] ΦᵀWΦ in float64. */
export function gram64(phi: Float64Array, n: number, k: number, w?: ArrayLike<number>): Float64Array {
  const g = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    for (let a = 0; a < k; a++) {
      const va = phi[i * k + a] * wi;
      if (va === 0) continue;
      for (let b = 0; b < k; b++) g[a * k + b] += va * phi[i * k + b];
    }
  }
  return g;
}

export function transpose(x: Float64Array, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = x[i * c + j];
  return t;
}

/** Max |a − b| / max |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** A classification data set written in the DATASET layout (x: [n, ...featureShape]). */
export interface HandData {
  xTrain: Float32Array;
  yTrain: Int32Array;
  xTest: Float32Array;
  yTest: Int32Array;
  featureShape: number[];
  classes: number;
}

export function randomData(seed: string, nTrain: number, nTest: number, featureShape: number[], classes: number): HandData {
  const rng = Rng.from('test-data', seed);
  const size = featureShape.reduce((a, b) => a * b, 1);
  return {
    xTrain: rng.fillNormal(new Float32Array(nTrain * size)),
    yTrain: Int32Array.from({ length: nTrain }, () => rng.int(classes)),
    xTest: rng.fillNormal(new Float32Array(nTest * size)),
    yTest: Int32Array.from({ length: nTest }, () => rng.int(classes)),
    featureShape,
    classes,
  };
}

function artifact(kind: string, dir: string, params: unknown = {}, inputs: Record<string, Artifact> = {}): Artifact {
  return { kind, stageKind: kind === 'models' ? 'train' : kind, hash: `hand-${kind}-${Math.random()}` as StageHash, dir, params, metrics: {}, units: 0, inputs };
}

export function datasetArtifact(d: HandData, dir = tempDir('attrib-data-')): Artifact {
  const nTrain = d.yTrain.length;
  const nTest = d.yTest.length;
  writeNpy(join(dir, DATASET.xTrain), d.xTrain, [nTrain, ...d.featureShape]);
  writeNpy(join(dir, DATASET.yTrain), d.yTrain);
  writeNpy(join(dir, DATASET.xTest), d.xTest, [nTest, ...d.featureShape]);
  writeNpy(join(dir, DATASET.yTest), d.yTest);
  writeNpy(join(dir, DATASET.trainIndex), Int32Array.from({ length: nTrain }, (_, i) => i));
  writeNpy(join(dir, DATASET.testIndex), Int32Array.from({ length: nTest }, (_, i) => i));
  const meta: DatasetMeta = { source: 'hand', featureShape: d.featureShape, classes: d.classes, nTrain, nTest, image: d.featureShape.length === 3 };
  writeFileSync(join(dir, DATASET.meta), JSON.stringify(meta));
  return artifact('dataset', dir);
}

/**
 * A `models` artifact of freshly initialized networks (weights random, not trained:
 * linearization does not care), optionally with checkpoints {epoch, lr} per model.
 */
export async function modelsArtifact(
  data: Artifact,
  d: HandData,
  spec: { kind: string },
  count: number,
  checkpoints: { epoch: number; lr: number }[] = [],
  dir = tempDir('attrib-models-'),
): Promise<{ artifact: Artifact; networks: Network[] }> {
  const networks: Network[] = [];
  for (let s = 0; s < count; s++) {
    const net = createNetwork(builtinModels(), spec, { featureShape: d.featureShape, classes: d.classes }, Rng.from('hand-model', s));
    await net.save(join(dir, MODELS.modelDir(s)));
    for (const c of checkpoints) {
      const ck = createNetwork(builtinModels(), spec, { featureShape: d.featureShape, classes: d.classes }, Rng.from('hand-checkpoint', s, c.epoch));
      const ckDir = join(dir, MODELS.checkpointDir(s, c.epoch));
      await ck.save(ckDir);
      writeFileSync(join(ckDir, 'checkpoint.json'), JSON.stringify(c));
      networks.push(ck);
    }
    networks.push(net);
  }
  writeFileSync(join(dir, MODELS.meta), JSON.stringify({ models: count, seeds: 1, masks: count, checkpoints }));
  return { artifact: artifact('models', dir, { model: spec }, { data }), networks };
}

/**
 * Runs the units of `kind` in two separate passes (as if the first run had been killed
 * after `first`), then combine() alone, into one store entry; returns the entry and the
 * mtimes of the first pass's unit files taken before the second pass.
 */
export async function runInTwoPasses(kind: StageKind, run: { params?: unknown; inputs: Record<string, Artifact>; first: number[] }): Promise<{ dir: string; before: Map<string, number>; after: Map<string, number> }> {
  const dir = tempDir('attrib-resume-');
  const a = await runStage(kind, { params: run.params, inputs: run.inputs, dir, onlyUnits: run.first });
  const units = a.units;
  const mtimes = () => new Map(run.first.flatMap((i) => readdirSync(join(dir, 'units', String(i))).map((f) => [join(String(i), f), statSync(join(dir, 'units', String(i), f)).mtimeMs] as [string, number])));
  const before = mtimes();
  const rest = Array.from({ length: units }, (_, i) => i).filter((i) => !run.first.includes(i));
  await runStage(kind, { params: run.params, inputs: run.inputs, dir, onlyUnits: rest });
  if (!hasUnits(kind)) throw new Error('runInTwoPasses: kind has no units');
  const staging = join(dir, '.staging-combine');
  mkdirSync(staging, { recursive: true });
  await kind.combine({
    params: paramsSchema(kind, builtins()).parse(run.params ?? {}),
    inputs: run.inputs,
    hash: a.hash,
    seed: 0,
    backend: process.env.ATTRIB_TEST_BACKEND ?? 'wasm',
    dir,
    outDir: staging,
    log: () => {},
    registry: builtins(),
    count: units,
    unitDir: (i) => join(dir, 'units', String(i)),
    unitOutcomes: [],
  });
  for (const name of readdirSync(staging)) renameSync(join(staging, name), join(dir, name));
  return { dir, before, after: mtimes() };
}

/**
 * Closed-form φ = ∇f and p = softmax_y of a logreg network (logits = xW + b) for rows of
 * x [n, d]: f = logit_y − logsumexp_{c≠y} logit_c, so ∂f/∂logit_c = 1 (c = y) and
 * −softmax_{≠y}(logit)_c (c ≠ y), and ∇_{[W;b]} f = [x; 1] ⊗ δ (row-major [d + 1, C]).
 */
export function logregGradients(net: Network, x: Float32Array, y: Int32Array, d: number, C: number): { g: Float64Array; p: Float64Array } {
  const W = net.variables[0].dataSync();
  const b = net.variables[1].dataSync();
  const n = y.length;
  const k = (d + 1) * C;
  const g = new Float64Array(n * k);
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const logits = Array.from({ length: C }, (_, c) => {
      let v = b[c];
      for (let a = 0; a < d; a++) v += x[i * d + a] * W[a * C + c];
      return v;
    });
    const max = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - max));
    const total = e.reduce((s, v) => s + v, 0);
    p[i] = e[y[i]] / total;
    const others = total - e[y[i]];
    const delta = e.map((v, c) => (c === y[i] ? 1 : -v / others));
    for (let a = 0; a <= d; a++) {
      const xa = a < d ? x[i * d + a] : 1;
      for (let c = 0; c < C; c++) g[i * k + a * C + c] = xa * delta[c];
    }
  }
  return { g, p };
}

