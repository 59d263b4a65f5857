/**
 * What a report is drawn from: the stage instances of one or more experiments (sweep
 * points) as a graph of store entries, each with its state and, when finished, its
 * manifest. Built either from a config's plans (`attrib report`) or from the artifacts
 * a `report` stage receives. Nothing here runs a stage: it only reads run.json files,
 * manifests and stage.json files.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeState, entryState, type ExperimentPlan } from '../pipeline/plan.ts';
import type { Artifact, StageHash } from '../pipeline/registry.ts';
import { Store, type Manifest, type RunEntry, type RunRecord } from '../pipeline/store.ts';

/** done: a complete store entry. The others are the ways a stage can be unfinished. */
export type NodeState = 'done' | 'missing' | 'partial' | 'running' | 'failed' | 'blocked' | 'corrupt';

export interface StageNode {
  hash: StageHash;
  /** Stage name in the config (without sweep suffix). */
  name: string;
  /** As shown: the name, plus the sweep point where one name means several instances. */
  label: string;
  /** Stage kind. */
  kind: string;
  /** The artifact kind it produces (dataset, masks, models, features, scores, lds, ...). */
  output: string;
  /** Input name -> upstream hash. */
  inputs: Record<string, StageHash>;
  params: unknown;
  /** Absolute path of the store entry. */
  dir: string;
  state: NodeState;
  /** One line for people: "cached", "partial (3 of 8 units)", "failed: ...". */
  stateText: string;
  /** Present when state is done. */
  manifest?: Manifest;
}

export interface ExperimentView {
  /** runs/<name>/: `base` or `base@key=value,...`. */
  name: string;
  baseName: string;
  /** "key=value, ..." of the sweep point; '' without a sweep. */
  point: string;
  /** Stage name -> hash, in topological order. */
  stages: { name: string; hash: StageHash }[];
  /** The experiment's run.json, if it was ever run. */
  run?: RunRecord;
}

export interface ReportGraph {
  /** Where the graph came from, for people: "config configs/x.yaml", "the report stage of x". */
  source: string;
  nodes: Map<StageHash, StageNode>;
  experiments: ExperimentView[];
  /** The runs folder (holding store/ and one folder per experiment). */
  runsDir: string;
}

export function pointOf(experimentName: string): string {
  const at = experimentName.indexOf('@');
  return at < 0 ? '' : experimentName.slice(at + 1).replace(/,/g, ', ');
}

function nodeState(store: Store, hash: StageHash, recorded: RunEntry | undefined): { state: NodeState; stateText: string; manifest?: Manifest } {
  const s = entryState(store, hash);
  if (s.state === 'cached') return { state: 'done', stateText: recorded?.hash === hash && recorded.status === 'ran' ? 'ran' : 'cached', manifest: s.manifest };
  if (store.isLocked(hash)) return { state: 'running', stateText: s.state === 'partial' ? `running, ${describeState(s)}` : 'running' };
  if (recorded?.hash === hash && (recorded.status === 'failed' || recorded.status === 'blocked')) {
    return { state: recorded.status, stateText: `${recorded.status}${recorded.error ? `: ${recorded.error}` : ''}` };
  }
  if (s.state === 'missing') return { state: 'missing', stateText: 'not run' };
  // A stale entry re-runs as a corrupt one does; its text says which input changed.
  return { state: s.state === 'stale' ? 'corrupt' : s.state, stateText: describeState(s) };
}

/** The graph of a config's experiments (one per sweep point), as the store has them now. */
export function graphFromPlans(plans: ExperimentPlan[], runsDir: string, source: string): ReportGraph {
  const store = new Store(runsDir);
  const nodes = new Map<StageHash, StageNode>();
  const experiments: ExperimentView[] = [];
  const hashesOfName = new Map<string, Set<StageHash>>();
  for (const plan of plans) for (const i of plan.instances) hashesOfName.set(i.name, (hashesOfName.get(i.name) ?? new Set()).add(i.hash));
  for (const plan of plans) {
    const { experiment } = plan;
    const run = store.readRun(experiment.name);
    const point = pointOf(experiment.name);
    for (const inst of plan.instances) {
      if (nodes.has(inst.hash)) continue;
      const shared = hashesOfName.get(inst.name)!.size === 1;
      nodes.set(inst.hash, {
        hash: inst.hash,
        name: inst.name,
        label: shared || !point ? inst.name : `${inst.name} @ ${point}`,
        kind: inst.spec.kind.name,
        output: inst.spec.kind.output,
        inputs: { ...inst.inputs },
        params: inst.spec.params,
        dir: store.entry(inst.hash),
        ...nodeState(store, inst.hash, run?.[inst.name]),
      });
    }
    experiments.push({
      name: experiment.name,
      baseName: experiment.baseName,
      point,
      stages: plan.instances.map((i) => ({ name: i.name, hash: i.hash })),
      run,
    });
  }
  return { source: `config ${source}`, nodes, experiments, runsDir };
}

/**
 * The graph upstream of a report stage's inputs. Stage names come from the run.json
 * files of the same runs folder that mention each hash (a report stage does not know
 * the names its upstream stages have in the config); the input name is the fallback.
 */
export function graphFromArtifacts(inputs: Record<string, Artifact>, storeDir: string, self?: StageHash): ReportGraph {
  const runsDir = dirname(storeDir);
  const store = new Store(runsDir);
  const names = new Map<StageHash, { name: string; experiment: string }>();
  for (const experiment of store.listRuns().sort()) {
    for (const [name, entry] of Object.entries(store.readRun(experiment) ?? {})) {
      if (entry && !names.has(entry.hash)) names.set(entry.hash, { name, experiment });
    }
  }
  const nodes = new Map<StageHash, StageNode>();
  const visit = (artifact: Artifact, inputName: string): StageHash => {
    const hash = artifact.hash;
    if (nodes.has(hash)) return hash;
    const ups: Record<string, StageHash> = {};
    for (const [input, up] of Object.entries(artifact.inputs ?? {})) ups[input] = visit(up, input);
    const name = names.get(hash)?.name ?? inputName;
    nodes.set(hash, {
      hash,
      name,
      label: name,
      kind: artifact.stageKind,
      output: artifact.kind,
      inputs: ups,
      params: artifact.params,
      dir: artifact.dir,
      ...nodeState(store, hash, undefined),
    });
    return hash;
  };
  for (const [input, artifact] of Object.entries(inputs)) visit(artifact, input);
  // Two different instances may carry the same name (sweep points): make labels unique.
  const byLabel = new Map<string, StageNode[]>();
  for (const n of nodes.values()) byLabel.set(n.label, [...(byLabel.get(n.label) ?? []), n]);
  for (const group of byLabel.values()) {
    if (group.length < 2) continue;
    for (const n of group) {
      const experiment = names.get(n.hash)?.experiment;
      const point = experiment ? pointOf(experiment) : '';
      n.label = point ? `${n.name} @ ${point}` : `${n.name} ${n.hash.slice(0, 8)}`;
    }
  }
  const order = topological([...nodes.values()]);
  const experiment = names.get((self ?? order[order.length - 1]?.hash) as StageHash)?.experiment;
  return {
    source: experiment ? `the report stage of ${experiment}` : `a report stage in ${basename(runsDir)}`,
    nodes,
    experiments: [
      {
        name: experiment ?? 'report',
        baseName: experiment?.split('@')[0] ?? 'report',
        point: experiment ? pointOf(experiment) : '',
        stages: order.map((n) => ({ name: n.name, hash: n.hash })),
        run: experiment ? store.readRun(experiment) : undefined,
      },
    ],
    runsDir,
  };
}

/** Nodes in an order where every input comes before its consumer (ties: given order). */
export function topological(nodes: StageNode[]): StageNode[] {
  const byHash = new Map(nodes.map((n) => [n.hash, n]));
  const out: StageNode[] = [];
  const seen = new Set<StageHash>();
  const visit = (n: StageNode) => {
    if (seen.has(n.hash)) return;
    seen.add(n.hash);
    for (const up of Object.values(n.inputs)) {
      const u = byHash.get(up);
      if (u) visit(u);
    }
    out.push(n);
  };
  for (const n of nodes) visit(n);
  return out;
}

/** The node itself and everything upstream of it. */
export function closure(graph: ReportGraph, hash: StageHash): StageNode[] {
  const out: StageNode[] = [];
  const seen = new Set<StageHash>();
  const visit = (h: StageHash) => {
    if (seen.has(h)) return;
    seen.add(h);
    const n = graph.nodes.get(h);
    if (!n) return;
    for (const up of Object.values(n.inputs)) visit(up);
    out.push(n);
  };
  visit(hash);
  return out;
}

/** The first upstream node (breadth first, the node itself included) producing `output`. */
export function upstreamOf(graph: ReportGraph, hash: StageHash, output: string): StageNode | undefined {
  const queue: StageHash[] = [hash];
  const seen = new Set<StageHash>();
  while (queue.length) {
    const h = queue.shift()!;
    if (seen.has(h)) continue;
    seen.add(h);
    const n = graph.nodes.get(h);
    if (!n) continue;
    if (n.output === output) return n;
    queue.push(...Object.values(n.inputs));
  }
  return undefined;
}

export function input(graph: ReportGraph, node: StageNode, name: string): StageNode | undefined {
  const h = node.inputs[name];
  return h ? graph.nodes.get(h) : undefined;
}

/** The nodes of one experiment, in its order. */
export function nodesOf(graph: ReportGraph, experiment: ExperimentView): StageNode[] {
  return experiment.stages.map((s) => graph.nodes.get(s.hash)).filter((n): n is StageNode => !!n);
}

/** Which experiments (sweep points) use a node. */
export function experimentsOf(graph: ReportGraph, hash: StageHash): ExperimentView[] {
  return graph.experiments.filter((e) => e.stages.some((s) => s.hash === hash));
}

/** Whether a folder looks like a run folder (holds run.json). */
export function isRunFolder(dir: string): boolean {
  return existsSync(join(dir, 'run.json'));
}

/** Names of run folders under a runs folder. */
export function runFolders(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir).filter((n) => n !== 'store' && isRunFolder(join(runsDir, n))).sort();
}
