/**
 * Walking a stage's inputs: the adapters between the engine's Artifacts (an upstream
 * store entry with its own inputs) and the library, which takes folders and plain
 * values. Which upstream entry a kind reads (the data set behind its models, the masks
 * they were trained on) and where it came from (lineage, to refuse mixing two data
 * sets) is decided here, once, for every kind.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Artifact } from '../pipeline/registry.ts';
import { MODELS } from '../lib/artifacts.ts';
import type { TrainedOn } from '../lib/attribution/features.ts';
import { readKnobDraws } from '../lib/knobs/draws.ts';
import { knobOutcomes, type KnobOutcomes } from '../lib/knobs/evaluate.ts';

/** How an error names a store entry: "train 1a2b3c4d5e6f". */
export function entryLabel(artifact: Artifact): string {
  return `${artifact.stageKind} ${artifact.hash.slice(0, 12)}`;
}

/**
 * `models: S` of a kind that ensembles over models: use the first S models of its input
 * (default: all). Absent when unset, so adding it kept every existing stage hash.
 */
export function modelsParam(of = 'the features') {
  return z.number().int().positive().optional().describe(`use the first S models of ${of} (default: all of them)`);
}

/** S for `models: S`: the requested count, or all `available`; more than the input holds is an error. */
export function modelsUsed(who: string, requested: number | undefined, available: number, holder = 'the features hold'): number {
  const S = requested ?? available;
  if (S > available) throw new Error(`${who}: models: ${S}, but ${holder} ${available} model(s)`);
  return S;
}

/** A models input's models.json: how many models, and the checkpoints train kept of each. */
export function modelsMeta(models: Artifact): { models: number; checkpoints?: { epoch: number; lr: number }[] } {
  return JSON.parse(readFileSync(join(models.dir, MODELS.meta), 'utf8')) as { models: number; checkpoints?: { epoch: number; lr: number }[] };
}

/**
 * The checkpoint epochs `who` reads of a models input: `wanted`, or every saved one when
 * absent. One it did not save, or none saved at all, is an error naming the entry.
 */
export function checkpointEpochs(who: string, models: Artifact, wanted?: number[]): number[] {
  const saved = (modelsMeta(models).checkpoints ?? []).map((c) => c.epoch);
  const how = 'train them with checkpoints: [epochs] or {every: k}';
  if (wanted === undefined && saved.length === 0) throw new Error(`${who}: the models (${entryLabel(models)}) saved no checkpoints; ${how}`);
  const epochs = wanted ?? saved;
  const missing = epochs.filter((e) => !saved.includes(e));
  if (missing.length) throw new Error(`${who}: checkpoints ${missing.join(', ')} were not saved (saved: ${saved.length ? saved.join(', ') : 'none'}) by the models (${entryLabel(models)}); ${how}`);
  return epochs;
}

/**
 * Feature sets for `models: S` (training runs): S · C when linearize took C checkpoints
 * of each run (`checkpoints`), else S; all of them by default.
 */
export function featureSetsUsed(who: string, requested: number | undefined, meta: { models: number; checkpoints?: number[] }): number {
  const C = meta.checkpoints?.length ?? 1;
  return modelsUsed(who, requested, meta.models / C) * C;
}

/**
 * trak and influence weight each train example by (1 − p_i), which assumes margin
 * gradients ∇f; loss gradients (linearize `output: loss`) would count that factor twice.
 */
export function requireMarginFeatures(who: string, meta: { output?: 'margin' | 'loss' }, features: Artifact): void {
  if (meta.output === 'loss') {
    throw new Error(`${who}: its features input (linearize ${features.hash.slice(0, 12)}) holds loss gradients (output: loss); ${who} needs margin gradients: use a linearize stage without output: loss`);
  }
}

/** The data set a `models` artifact was trained on (its `data` input). */
export function dataOf(models: Artifact, who: string): Artifact {
  const data = models.inputs.data;
  if (!data) throw new Error(`${who}: the models input (${entryLabel(models)}) has no "data" input to read examples from`);
  return data;
}

/** The masks a `models` artifact was trained on (its `masks` input); `hint` says how to fix a missing one. */
export function masksOf(models: Artifact, who: string, hint = 'train it on a subsets stage'): Artifact {
  const masks = models.inputs.masks;
  if (!masks || masks.kind !== 'masks') throw new Error(`${who}: the models input (${entryLabel(models)}) has no "masks" input; ${hint}`);
  return masks;
}

/** The draws θ_k of the knob subsets `models` were trained on, and the models' outcomes on the targets. */
export function knobOutcomesOf(models: Artifact, targetIndex: Int32Array, who: string): KnobOutcomes {
  const masks = masksOf(models, who, 'train it on a subsets stage with knobs');
  return knobOutcomes(models.dir, readKnobDraws(masks.dir, entryLabel(masks), who), targetIndex, who);
}

/** The models and masks a features artifact comes from; undefined when the models were not trained on masks. */
export function trainedOn(features: Artifact): TrainedOn | undefined {
  const models = features.inputs.models;
  const masks = models?.inputs.masks;
  return models && masks ? { models: models.dir, masks: masks.dir } : undefined;
}

/** The data set an artifact was made from: itself if it is one, else through `inputs.data` (or any input) upstream. */
export function findDataset(artifact: Artifact): Artifact {
  const seen = new Set<string>();
  const walk = (a: Artifact): Artifact | undefined => {
    if (a.kind === 'dataset') return a;
    if (seen.has(a.hash)) return undefined;
    seen.add(a.hash);
    if (a.inputs.data) {
      const hit = walk(a.inputs.data);
      if (hit) return hit;
    }
    for (const input of Object.values(a.inputs)) {
      const hit = walk(input);
      if (hit) return hit;
    }
    return undefined;
  };
  const found = walk(artifact);
  if (!found) throw new Error(`no dataset artifact upstream of ${entryLabel(artifact)}`);
  return found;
}

export interface Upstream {
  artifact: Artifact;
  /** The input names followed to reach it, e.g. "scores → features → models → data". */
  path: string;
}

/** Every upstream artifact of kind `kind` (the artifact itself included), each once. */
export function findUpstream(root: Artifact, kind: string, rootName: string): Upstream[] {
  const found = new Map<string, Upstream>();
  const seen = new Set<string>();
  const visit = (a: Artifact, path: string) => {
    if (seen.has(a.hash + path)) return;
    seen.add(a.hash + path);
    if (a.kind === kind) {
      if (!found.has(a.hash)) found.set(a.hash, { artifact: a, path });
      return;
    }
    for (const [name, input] of Object.entries(a.inputs ?? {})) visit(input, `${path} → ${name}`);
  };
  visit(root, rootName);
  return [...found.values()];
}

/**
 * Throws a clear error when both sides reach a data set and they are different stage
 * instances, so an evaluation never scores attributions computed on one data set
 * against models trained on another. Silent when either side reaches none (e.g. scores
 * imported from a file).
 */
export function checkSameDataset(a: Artifact, aName: string, b: Artifact, bName: string): void {
  const left = findUpstream(a, 'dataset', aName);
  const right = findUpstream(b, 'dataset', bName);
  if (left.length === 0 || right.length === 0) return;
  const rightHashes = new Set(right.map((u) => u.artifact.hash));
  if (left.some((u) => rightHashes.has(u.artifact.hash))) return;
  const describe = (u: Upstream) => `${u.path} (${entryLabel(u.artifact)}, params ${JSON.stringify(u.artifact.params)})`;
  throw new Error(
    `${aName} and ${bName} come from different data sets: ${left.map(describe).join('; ')} vs ${right.map(describe).join('; ')}. ` +
      `Point both at the same dataset stage (same params) so the targets and train examples are the same.`,
  );
}

/** Every select stage upstream of `root` (itself included), each once. */
export function selectionsUpstream(root: Artifact): Artifact[] {
  const found = new Map<string, Artifact>();
  const seen = new Set<string>();
  const visit = (a: Artifact) => {
    if (seen.has(a.hash)) return;
    seen.add(a.hash);
    if (a.stageKind === 'select') found.set(a.hash, a);
    for (const input of Object.values(a.inputs ?? {})) visit(input);
  };
  visit(root);
  return [...found.values()];
}
