/**
 * The numbers behind each plot, read from finished store entries (never computed by
 * running a stage):
 *
 *   LDS against compute   one point per lds entry: its LDS (and bootstrap interval)
 *                         against the cost of the method that produced its scores:
 *                         seconds = Σ manifest.seconds over the scores entry and
 *                         everything upstream of it (the ground-truth branch of the
 *                         lds stage is not upstream of the scores, so not counted);
 *                         models = Σ models trained in those entries. A scores stage
 *                         with `models: N` of M trained pays N/M of the per-model
 *                         stages (subsets, train, linearize) and counts N models.
 *                         Methods are named by kind and distinguishing params
 *                         (methodNames); reaches() finds where TRAK-S first matches
 *                         datamodels-N.
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
  /**
   * The method as people name it: its kind and the params that set it apart from the
   * other stages of the same kind (`TRAK k=2048`, `Grad-Dot`). One line per method: the
   * number of models it used is the x axis, not part of this name.
   */
  method: string;
  /** The method with the models it used where that varies (`TRAK k=2048 S=10`): a point's name. */
  name: string;
  /** `S=10`, `N=300` (the models the scores used), or '' for a method drawn at one count only. */
  count: string;
  /** The scores stage's name in the config. */
  stage: string;
  /** The scores stage's kind (trak, datamodels, graddot, ...). */
  kind: string;
  /** Sweep point(s) this lds entry belongs to ('' without a sweep). */
  point: string;
  ldsLabel: string;
  ldsHash: StageHash;
  lds: number;
  low: number;
  high: number;
  /**
   * Seconds spent computing the scores and everything upstream of them. A scores stage
   * that uses the first N of M models (`models: N`) is charged N/M of the stages that
   * scale with the models (subsets, train, linearize): what N models would have cost.
   */
  seconds: number;
  /** Models trained for the scores (Σ over train stages upstream; N with `models: N`). */
  models: number;
  /** Ground-truth seeds per subset: the noise level every LDS must be read with. */
  seedsPerSubset: number;
}

/** LDS entries that finished, in the given order. */
export function finishedLds(nodes: Iterable<StageNode>): StageNode[] {
  return [...nodes].filter((n) => n.output === 'lds' && n.state === 'done');
}

const num = (v: unknown, fallback = Number.NaN): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

/** Artifacts whose cost grows with the number of models: a `models: N` stage pays N/M of them. */
const PER_MODEL_OUTPUTS = new Set(['masks', 'models', 'features']);

export function computePoints(graph: ReportGraph, ldsNodes: StageNode[]): ComputePoint[] {
  const rows: (Omit<ComputePoint, 'method' | 'name' | 'count'> & { scores: StageNode })[] = [];
  for (const node of ldsNodes) {
    const scores = input(graph, node, 'scores');
    const m = node.manifest?.metrics ?? {};
    if (!scores || !node.manifest) continue;
    const upstream = closure(graph, scores.hash);
    let trained = 0;
    for (const n of upstream) if (n.output === 'models') trained += modelsOf(n);
    const used = modelsParam(scores);
    const share = used !== undefined && trained > 0 ? Math.min(1, used / trained) : 1;
    let seconds = 0;
    for (const n of upstream) seconds += num(n.manifest?.seconds, 0) * (n !== scores && PER_MODEL_OUTPUTS.has(n.output) ? share : 1);
    const experiments = experimentsOf(graph, node.hash);
    const everywhere = experiments.length === graph.experiments.length && graph.experiments.length > 1;
    const lds = num(m.lds);
    rows.push({
      scores,
      stage: scores.name,
      kind: scores.kind,
      point: everywhere ? 'all points' : experiments.map((e) => e.point).filter(Boolean).join(' | '),
      ldsLabel: node.label,
      ldsHash: node.hash,
      lds,
      low: num(m.ldsLow, lds),
      high: num(m.ldsHigh, lds),
      seconds,
      models: Math.round(trained * share),
      seedsPerSubset: num(m.seedsPerSubset, 1),
    });
  }
  const methods = methodNames(graph, rows.map((r) => r.scores));
  const countsOf = new Map<string, Set<number>>();
  rows.forEach((r, i) => countsOf.set(methods[i]!, (countsOf.get(methods[i]!) ?? new Set()).add(r.models)));
  return rows.map(({ scores, ...r }, i) => {
    const method = methods[i]!;
    const letter = COUNT_LETTER[r.kind];
    const count = letter || countsOf.get(method)!.size > 1 ? `${letter ?? 'models'}=${r.models}` : '';
    return { ...r, method, count, name: count ? `${method} ${count}` : method };
  });
}

function modelsOf(n: StageNode): number {
  return num(n.manifest?.metrics.models, num(n.manifest?.units, 0));
}

function modelsParam(scores: StageNode): number | undefined {
  const p = scores.params as { models?: unknown } | undefined;
  return typeof p?.models === 'number' ? p.models : undefined;
}

// --- naming methods ------------------------------------------------------------------------

/** How papers write the kinds; a kind not listed is named as it is. */
const KIND_NAMES: Record<string, string> = {
  trak: 'TRAK',
  datamodels: 'Datamodels',
  graddot: 'Grad-Dot',
  gradcos: 'Grad-Cos',
  influence: 'Influence',
  tracin: 'TracIn',
};

/** The letter the literature uses for a method's number of models (TRAK's S, datamodels' N). */
const COUNT_LETTER: Record<string, string> = { trak: 'S', datamodels: 'N' };

/** Facts every name of a kind shows, even when all its stages agree (TRAK is read with its k). */
const ALWAYS_SHOWN: Record<string, string[]> = { trak: ['k'] };

/** Params that say how much or how the work is split, not which method: never in a name. */
const NOT_A_METHOD = new Set(['models', 'topK', 'targetBlock', 'blockSize', 'targets', 'chunk', 'batchSize', 'maxParams']);

/**
 * What identifies a scores stage as a method: its own params (flattened: `lambda.relative`)
 * and its projection (`k`, and the projector kind) from the features it reads.
 */
function methodFacts(graph: ReportGraph, scores: StageNode): Map<string, string> {
  const facts = new Map<string, string>();
  const features = input(graph, scores, 'features');
  const projector = (features?.params as { projector?: { kind?: string; dim?: number } } | undefined)?.projector;
  if (projector?.kind) {
    facts.set('k', projector.kind === 'identity' ? 'exact' : String(projector.dim ?? '?'));
    facts.set('projector', projector.kind);
  }
  const flatten = (value: unknown, path: string) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k);
    else facts.set(path, JSON.stringify(value));
  };
  for (const [key, value] of Object.entries((scores.params ?? {}) as Record<string, unknown>)) if (!NOT_A_METHOD.has(key)) flatten(value, key);
  return facts;
}

function factText(key: string, value: string): string {
  if (key === 'k') return value === 'exact' ? 'exact gradients' : `k=${value}`;
  if (key === 'projector') return value;
  const short = key.replace(/^lambda(\.relative)?$/, 'λ').replace(/\.relative$/, '');
  return `${short}=${value.replace(/^"|"$/g, '')}`;
}

/**
 * One name per scores stage: the kind as papers write it, plus every fact in which it
 * differs from another stage of the same kind (so two TRAKs with different λ are two
 * methods, and one Grad-Dot is just `Grad-Dot`).
 */
export function methodNames(graph: ReportGraph, scores: StageNode[]): string[] {
  const facts = scores.map((s) => methodFacts(graph, s));
  return scores.map((s, i) => {
    const sameKind = scores.map((o, j) => (o.kind === s.kind ? facts[j]! : undefined)).filter((f): f is Map<string, string> => !!f);
    const parts: string[] = [KIND_NAMES[s.kind] ?? s.kind];
    for (const [key, value] of facts[i]!) {
      const differs = sameKind.some((f) => f.get(key) !== value);
      if (differs || ALWAYS_SHOWN[s.kind]?.includes(key)) parts.push(factText(key, value));
    }
    return parts.join(' ');
  });
}

/**
 * Where a cheaper method first matches another's LDS: for each point of a `reference`
 * kind (datamodels), the point of each `challenger` method (TRAK) with the fewest models
 * whose LDS is at least the reference point's. `reached` undefined: no challenger
 * point gets there (the best one is given instead).
 */
export interface Reach {
  reference: ComputePoint;
  challenger: string;
  reached?: ComputePoint;
  best: ComputePoint;
}

export function reaches(points: ComputePoint[], reference = 'datamodels', challenger = 'trak'): Reach[] {
  const out: Reach[] = [];
  const challengers = new Map<string, ComputePoint[]>();
  for (const p of points) if (p.kind === challenger && Number.isFinite(p.lds)) challengers.set(p.method, [...(challengers.get(p.method) ?? []), p]);
  const refs = points.filter((p) => p.kind === reference && Number.isFinite(p.lds)).sort((a, b) => a.models - b.models || a.seconds - b.seconds);
  for (const ref of refs) {
    for (const [method, list] of challengers) {
      const sorted = [...list].sort((a, b) => a.models - b.models || a.seconds - b.seconds);
      const best = sorted.reduce((a, b) => (b.lds > a.lds ? b : a));
      out.push({ reference: ref, challenger: method, reached: sorted.find((p) => p.lds >= ref.lds), best });
    }
  }
  return out;
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
