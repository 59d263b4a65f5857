/**
 * Where an artifact came from: the upstream data sets reachable through its inputs, so
 * an evaluation can refuse to score attributions computed on one data set against
 * models trained on another.
 */
import type { Artifact } from '../../pipeline/registry.ts';

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
 * instances. Silent when either side reaches none (e.g. scores imported from a file).
 */
export function checkSameDataset(a: Artifact, aName: string, b: Artifact, bName: string): void {
  const left = findUpstream(a, 'dataset', aName);
  const right = findUpstream(b, 'dataset', bName);
  if (left.length === 0 || right.length === 0) return;
  const rightHashes = new Set(right.map((u) => u.artifact.hash));
  if (left.some((u) => rightHashes.has(u.artifact.hash))) return;
  const describe = (u: Upstream) => `${u.path} (${u.artifact.stageKind} ${u.artifact.hash.slice(0, 12)}, params ${JSON.stringify(u.artifact.params)})`;
  throw new Error(
    `${aName} and ${bName} come from different data sets: ${left.map(describe).join('; ')} vs ${right.map(describe).join('; ')}. ` +
      `Point both at the same dataset stage (same params) so the targets and train examples are the same.`,
  );
}
