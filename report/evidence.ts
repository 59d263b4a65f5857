/**
 * The numbers behind each plot, read from finished store entries (never computed by
 * running a stage):
 *
 *   LDS against compute   one point per lds entry: its LDS (and bootstrap interval)
 *                         against the cost of the method that produced its scores:
 *                         seconds = Σ manifest.seconds over the scores entry and
 *                         everything upstream of it (the ground-truth branch of the
 *                         lds stage is not upstream of the scores, so not counted);
 *                         models = Σ models trained in those entries.
 *   predicted vs real     for target j and ground-truth subset S_k:
 *                         ĝ_j(S_k) = Σ_{i∈S_k} τ(x_j)_i  against  f̄(x_j; θ(S_k)),
 *                         the margin averaged over the seeds trained on S_k: the pairs
 *                         whose Spearman correlation is LDS_j.
 *   per-target LDS        lds_per_target.npy.
 *   examples              target j beside its top proponents (largest τ(x_j)_i) and
 *                         opponents (smallest), as images or feature rows.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StageHash } from '../pipeline/registry.ts';
import { DATASET, LDS, MASKS, MODELS, SCORES, type DatasetMeta } from '../lib/artifacts.ts';
import { topK } from '../lib/attribution/scores.ts';
import { marginsPerMask, subsetPredictions } from '../lib/evaluation/linear-datamodeling.ts';
import { readNpy, readNpyHeader, readNpyRows } from '../lib/io/npy.ts';
import { closure, experimentsOf, input, upstreamOf, type ReportGraph, type StageNode } from './graph.ts';
import { imageDataUri } from './png.ts';

export interface ComputePoint {
  /** The scores stage's name (what a method is called in the config). */
  method: string;
  /** The scores stage's kind (trak, datamodels, graddot, ...). */
  kind: string;
  /** Sweep point(s) this lds entry belongs to ('' without a sweep). */
  point: string;
  ldsLabel: string;
  ldsHash: StageHash;
  lds: number;
  low: number;
  high: number;
  /** Seconds spent computing the scores and everything upstream of them. */
  seconds: number;
  /** Models trained for the scores (Σ over train stages upstream). */
  models: number;
  /** Ground-truth seeds per subset: the noise level every LDS must be read with. */
  seedsPerSubset: number;
}

/** LDS entries that finished, in the given order. */
export function finishedLds(nodes: Iterable<StageNode>): StageNode[] {
  return [...nodes].filter((n) => n.output === 'lds' && n.state === 'done');
}

const num = (v: unknown, fallback = Number.NaN): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

export function computePoints(graph: ReportGraph, ldsNodes: StageNode[]): ComputePoint[] {
  const points: ComputePoint[] = [];
  for (const node of ldsNodes) {
    const scores = input(graph, node, 'scores');
    const m = node.manifest?.metrics ?? {};
    if (!scores || !node.manifest) continue;
    const upstream = closure(graph, scores.hash);
    let seconds = 0;
    let models = 0;
    for (const n of upstream) {
      seconds += num(n.manifest?.seconds, 0);
      if (n.output === 'models') models += num(n.manifest?.metrics.models, num(n.manifest?.units, 0));
    }
    const experiments = experimentsOf(graph, node.hash);
    const everywhere = experiments.length === graph.experiments.length && graph.experiments.length > 1;
    const lds = num(m.lds);
    points.push({
      method: scores.name,
      kind: scores.kind,
      point: everywhere ? 'all points' : experiments.map((e) => e.point).filter(Boolean).join(' | '),
      ldsLabel: node.label,
      ldsHash: node.hash,
      lds,
      low: num(m.ldsLow, lds),
      high: num(m.ldsHigh, lds),
      seconds,
      models,
      seedsPerSubset: num(m.seedsPerSubset, 1),
    });
  }
  return points;
}

// --- data sets ---------------------------------------------------------------------------

export interface Example {
  split: 'train' | 'test';
  /** Row in its split. */
  index: number;
  label: number;
  labelName: string;
  /** τ(x_j)_i for a proponent or opponent. */
  score?: number;
  /** data: PNG URI, for image data sets. */
  image?: string;
  /** Feature values (un-normalized when the normalization is known), for tabular data. */
  features?: number[];
}

/** Rows of a finished dataset entry, read one at a time. */
export class DatasetView {
  readonly meta: DatasetMeta;
  private readonly labels: { train?: Int32Array; test?: Int32Array } = {};

  constructor(readonly dir: string) {
    this.meta = JSON.parse(readFileSync(join(dir, DATASET.meta), 'utf8')) as DatasetMeta;
  }

  private label(split: 'train' | 'test', index: number): number {
    const labels = (this.labels[split] ??= readNpy(join(this.dir, split === 'train' ? DATASET.yTrain : DATASET.yTest)).data as Int32Array);
    return labels[index] ?? -1;
  }

  /** Names of the shown feature columns (tabular data). */
  featureNames(): string[] {
    const d = this.meta.featureShape.reduce((a, b) => a * b, 1);
    return Array.from({ length: d }, (_, f) => this.meta.featureNames?.[f] ?? `x${f}`);
  }

  example(split: 'train' | 'test', index: number, score?: number): Example {
    const path = join(this.dir, split === 'train' ? DATASET.xTrain : DATASET.xTest);
    const row = readNpyRows(path, index, index + 1).data as Float32Array;
    const label = this.label(split, index);
    const out: Example = { split, index, label, labelName: this.meta.classNames?.[label] ?? String(label), ...(score !== undefined ? { score } : {}) };
    if (this.meta.image) out.image = imageDataUri(row, this.meta.featureShape);
    else out.features = this.unnormalize(row);
    return out;
  }

  /** x = x' · scale + shift per feature, when the dataset recorded a per-feature normalization. */
  private unnormalize(row: Float32Array): number[] {
    const norm = this.meta.normalization;
    const values = Array.from(row);
    if (!norm || norm.per !== 'feature' || norm.shift.length !== values.length || norm.scale.length !== values.length) return values;
    return values.map((v, f) => v * norm.scale[f]! + norm.shift[f]!);
  }
}

// --- one scores entry and, when there is one, its lds entry --------------------------------

export interface TargetDetail {
  /** Row j of scores.npy. */
  row: number;
  /** Index of the target in the test split. */
  testIndex: number;
  /** LDS_j when the target was scored by an lds stage. */
  lds?: number;
  /** ĝ_j(S_k) and f̄(x_j; θ(S_k)) over the ground-truth subsets k. */
  predicted?: number[];
  real?: number[];
  target?: Example;
  proponents: Example[];
  opponents: Example[];
}

export interface ScoresDetail {
  scores: StageNode;
  /** The lds entry these details come from, if any. */
  lds?: StageNode;
  perTarget?: Float32Array;
  ldsMeta?: Record<string, unknown>;
  dataset?: DatasetView;
  targets: TargetDetail[];
  /** What could not be read, for the page to say instead of failing. */
  problems: string[];
}

export interface DetailOptions {
  /** How many targets to show (spread from the best to the worst LDS_j). */
  targets: number;
  /** Proponents and opponents per target. */
  top: number;
}

/** Rows j to show: evenly spaced ranks from the best LDS_j to the worst, or the first rows. */
export function chooseTargets(perTarget: ArrayLike<number> | undefined, nTargets: number, count: number): number[] {
  const n = Math.min(count, nTargets);
  if (n <= 0) return [];
  if (!perTarget) return Array.from({ length: n }, (_, i) => i);
  const key = (j: number) => (Number.isNaN(perTarget[j]!) ? -Infinity : perTarget[j]!); // undefined LDS_j rank last
  const order = Array.from({ length: nTargets }, (_, j) => j).sort((a, b) => key(b) - key(a) || a - b);
  const picked: number[] = [];
  for (let r = 0; r < n; r++) {
    const rank = n === 1 ? Math.floor((nTargets - 1) / 2) : Math.round((r * (nTargets - 1)) / (n - 1));
    const j = order[rank]!;
    if (!picked.includes(j)) picked.push(j);
  }
  return picked;
}

/** Details of an lds entry (scatter, distribution, examples) or of a bare scores entry (examples). */
export function scoresDetail(graph: ReportGraph, node: StageNode, opts: DetailOptions): ScoresDetail {
  const lds = node.output === 'lds' ? node : undefined;
  const scores = lds ? input(graph, lds, 'scores') : node;
  const problems: string[] = [];
  if (!scores) return { scores: node, lds, targets: [], problems: ['the scores input is not in the graph'] };
  const detail: ScoresDetail = { scores, lds, targets: [], problems };
  if (scores.state !== 'done') {
    problems.push(`scores stage ${scores.label} has not finished`);
    return detail;
  }
  const scoresPath = join(scores.dir, SCORES.scores);
  let nTargets: number;
  let targetIndex: Int32Array;
  try {
    nTargets = readNpyHeader(scoresPath).shape[0] ?? 0;
    targetIndex = readNpy(join(scores.dir, SCORES.targetIndex)).data as Int32Array;
  } catch (e) {
    problems.push(`cannot read the scores: ${(e as Error).message}`);
    return detail;
  }
  if (lds?.state === 'done') {
    try {
      detail.perTarget = readNpy(join(lds.dir, LDS.perTarget)).data as Float32Array;
      const metaPath = join(lds.dir, LDS.meta);
      if (existsSync(metaPath)) detail.ldsMeta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      problems.push(`cannot read the lds entry: ${(e as Error).message}`);
    }
  }
  const data = upstreamOf(graph, scores.hash, 'dataset');
  if (data?.state === 'done') {
    try {
      detail.dataset = new DatasetView(data.dir);
    } catch (e) {
      problems.push(`cannot read the data set: ${(e as Error).message}`);
    }
  }
  const rows = chooseTargets(detail.perTarget, nTargets, opts.targets);
  const truth = lds?.state === 'done' && detail.perTarget ? groundTruth(graph, lds, rows.map((j) => targetIndex[j]!), problems) : undefined;
  for (const [r, j] of rows.entries()) {
    const tau = readNpyRows(scoresPath, j, j + 1).data as Float32Array;
    const top = topK(tau, opts.top);
    const t: TargetDetail = { row: j, testIndex: targetIndex[j]!, proponents: [], opponents: [] };
    if (detail.perTarget) t.lds = detail.perTarget[j];
    if (truth) {
      t.predicted = Array.from(subsetPredictions(tau, 1, tau.length, truth.masks, truth.nMasks));
      t.real = Array.from(truth.real.subarray(r * truth.nMasks, (r + 1) * truth.nMasks));
    }
    if (detail.dataset) {
      const d = detail.dataset;
      t.target = d.example('test', t.testIndex);
      t.proponents = top.proponents.map((p) => d.example('train', p.index, p.score));
      t.opponents = top.opponents.map((p) => d.example('train', p.index, p.score));
    }
    detail.targets.push(t);
  }
  return detail;
}

/** Ground-truth masks and seed-averaged margins of the chosen targets, [targets, masks]. */
function groundTruth(graph: ReportGraph, lds: StageNode, testIndices: number[], problems: string[]): { masks: Uint8Array; nMasks: number; real: Float64Array } | undefined {
  const models = input(graph, lds, 'models');
  const masksNode = models && input(graph, models, 'masks');
  if (!models || !masksNode || models.state !== 'done' || masksNode.state !== 'done') {
    problems.push('the ground-truth models or masks are not finished: no predicted-vs-real scatter');
    return undefined;
  }
  try {
    const masks = readNpy(join(masksNode.dir, MASKS.masks));
    const margins = readNpy(join(models.dir, MODELS.marginsTest));
    const maskOf = readNpy(join(models.dir, MODELS.maskOf)).data as Int32Array;
    const nMasks = masks.shape[0]!;
    const [nModels, nTest] = margins.shape as [number, number];
    const { truth } = marginsPerMask(margins.data as Float32Array, nModels, nTest, maskOf, nMasks, Int32Array.from(testIndices));
    return { masks: masks.data as Uint8Array, nMasks, real: truth };
  } catch (e) {
    problems.push(`cannot read the ground truth: ${(e as Error).message}`);
    return undefined;
  }
}
