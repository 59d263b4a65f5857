/**
 * A synthetic store of many entries, laid out exactly as a run lays one out: each entry
 * is written through the store's own functions (Store.writeStage, staging + commitStaged,
 * commitUnit, and the engine's writeStageManifest with its file digests and input
 * digests), and the references through Store.writeRun / Store.writeHistory. Used by the
 * gc test (tests/engine/store-scale.test.ts) and by bench/store.ts.
 *
 * The graph: `roots` data entries; each has `midsPerRoot` fit entries (2 work units
 * each) reading it; each fit has `leavesPerMid` score entries reading it. Leaf number g
 * (counting all leaves) is referenced
 *   - by a run.json (experiment exp-<g>, all three stages) when g % referenceEvery == 0,
 *   - by a run record only (experiment hist, only the leaf) when g % referenceEvery == referenceEvery/2,
 * and nothing else is referenced: gc must keep those leaves and their fit and data, and
 * remove the rest.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { stageHash } from '../../pipeline/hash.ts';
import { newRunId, runEntry } from '../../pipeline/record.ts';
import { defineStage, type StageHash, type StageKind } from '../../pipeline/registry.ts';
import { Store, type HistoryRecord, type RunRecord, type StageRecord } from '../../pipeline/store.ts';
import { writeStageManifest } from '../../pipeline/task.ts';

export interface SyntheticOptions {
  roots: number;
  midsPerRoot: number;
  leavesPerMid: number;
  /** One leaf in this many is referenced by a run.json, another by a run record. */
  referenceEvery: number;
  /** Size of each entry's artifact file. */
  artifactBytes: number;
  /** Called after each entry is written (progress). */
  onEntry?: (done: number, total: number) => void;
}

export interface SyntheticStore {
  /** Every entry, in the order written. */
  entries: StageHash[];
  /** Entry -> the entries it was computed from. */
  upstream: Map<StageHash, StageHash[]>;
  /** Entries a run.json or run record names directly. */
  referenced: StageHash[];
  /** Leaves named by a run.json. */
  referencedByRunJson: StageHash[];
  /** Leaves named only by a run record (history). */
  referencedByHistoryOnly: StageHash[];
}

// The kinds only give the manifest its output and whether units exist; nothing runs them.
const params = z.object({ i: z.number() });
const DATA = defineStage({ name: 'synthetic-data', version: '1', description: 'synthetic', params, inputs: {}, output: 'synthetic-data', run: async () => ({}) });
const FIT = defineStage({
  name: 'synthetic-fit',
  version: '1',
  description: 'synthetic',
  params,
  inputs: { data: { kinds: ['synthetic-data'] } },
  output: 'synthetic-fit',
  units: () => 2,
  runUnit: async () => ({}),
  combine: async () => ({}),
});
const SCORE = defineStage({ name: 'synthetic-score', version: '1', description: 'synthetic', params, inputs: { fit: { kinds: ['synthetic-fit'] } }, output: 'synthetic-score', run: async () => ({}) });

function payload(label: string, bytes: number): string {
  return label.padEnd(bytes, '.').slice(0, Math.max(bytes, label.length));
}

function writeEntry(store: Store, kind: StageKind, i: number, inputs: Record<string, StageHash>, bytes: number): StageHash {
  const seed = 1;
  const hash = stageHash({ kind: kind.name, version: kind.version, params: { i }, inputs, seed });
  const unitCount = kind === FIT ? 2 : undefined;
  const record: StageRecord = { hash, kind: kind.name, version: kind.version, params: { i }, inputs, seed, backend: 'cpu', plugins: [], ...(unitCount ? { units: unitCount } : {}) };
  store.writeStage(record);
  for (let u = 0; u < (unitCount ?? 0); u++) {
    const staging = store.staging(hash, `unit-${u}`);
    writeFileSync(join(staging, 'unit.json'), JSON.stringify({ metrics: {}, seconds: 0.001 }));
    writeFileSync(join(staging, 'part.bin'), payload(`${hash}:${u}`, bytes));
    store.commitUnit(hash, u, staging);
  }
  const staging = store.staging(hash, 'run');
  writeFileSync(join(staging, 'artifact.bin'), payload(hash, bytes));
  store.commitStaged(hash, staging);
  const started = new Date();
  writeStageManifest(store, record, kind, { outcome: { metrics: { i } }, unitOutcomes: [], started, seconds: 0.001, wallSeconds: 0.001, attribVersion: 'synthetic' });
  return hash;
}

/** Builds the synthetic store under `runsDir` (see the top of this file). */
export function buildSyntheticStore(runsDir: string, o: SyntheticOptions): SyntheticStore {
  const store = new Store(runsDir);
  const total = o.roots * (1 + o.midsPerRoot * (1 + o.leavesPerMid));
  const entries: StageHash[] = [];
  const upstream = new Map<StageHash, StageHash[]>();
  const referencedByRunJson: StageHash[] = [];
  const referencedByHistoryOnly: StageHash[] = [];
  const referenced: StageHash[] = [];
  const history: RunRecord = {};
  const add = (h: StageHash, inputs: StageHash[]) => {
    entries.push(h);
    upstream.set(h, inputs);
    o.onEntry?.(entries.length, total);
  };
  let leaf = 0;
  for (let r = 0; r < o.roots; r++) {
    const data = writeEntry(store, DATA, r, {}, o.artifactBytes);
    add(data, []);
    for (let m = 0; m < o.midsPerRoot; m++) {
      const fit = writeEntry(store, FIT, r * o.midsPerRoot + m, { data }, o.artifactBytes);
      add(fit, [data]);
      for (let l = 0; l < o.leavesPerMid; l++, leaf++) {
        const score = writeEntry(store, SCORE, leaf, { fit }, o.artifactBytes);
        add(score, [fit]);
        if (leaf % o.referenceEvery === 0) {
          store.writeRun(`exp-${leaf}`, { data: runEntry(data, 'ran'), fit: runEntry(fit, 'ran'), score: runEntry(score, 'ran') });
          referencedByRunJson.push(score);
          referenced.push(data, fit, score);
        } else if (leaf % o.referenceEvery === Math.floor(o.referenceEvery / 2)) {
          history[`score-${leaf}`] = runEntry(score, 'ran');
          referencedByHistoryOnly.push(score);
          referenced.push(score);
        }
      }
    }
  }
  const now = new Date().toISOString();
  const record: HistoryRecord = {
    id: newRunId(),
    experiment: 'hist',
    config: 'synthetic.yaml',
    started: now,
    finished: now,
    status: 'complete',
    overrides: [],
    point: [],
    resolved: {},
    attrib: 'synthetic',
    host: 'synthetic',
    pid: 1,
    stages: history,
  };
  store.writeHistory(record);
  return { entries, upstream, referenced, referencedByRunJson, referencedByHistoryOnly };
}
