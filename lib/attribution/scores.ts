/**
 * The SCORES artifact writer shared by every scores-producing kind (trak, graddot,
 * gradcos, tracin, influence, datamodels), so `lds` and reports read any of them.
 *
 * Layout (lib/artifacts.ts SCORES):
 *   scores.npy        float32 [nTargets, nTrain]  τ(x_j)_i, row j = target j
 *   target_index.npy  int32 [nTargets]            index of target j in the test split
 *   top.json          [{target, proponents: [{index, score}], opponents: [...]}]
 *   scores.json       {method, nTargets, nTrain, topK, ...kind-specific}
 *
 * Rows arrive in blocks (`append`), so a writer never holds more than one block: the
 * top-k proponents (largest τ) and opponents (smallest τ) of each row are selected as
 * the row goes by. Everything lands under a temporary name and is renamed on `close`.
 */
import { join } from 'node:path';
import { SCORES } from '../artifacts.ts';
import { writeJsonAtomic } from '../io/json.ts';
import { NpyWriter, writeNpy } from '../io/npy.ts';

export interface TopEntry {
  /** Row index into the train split. */
  index: number;
  score: number;
}

export interface TargetTop {
  /** Index of the target in the test split. */
  target: number;
  /** Largest scores first: training on these raises the target's margin. */
  proponents: TopEntry[];
  /** Smallest (most negative) scores first. */
  opponents: TopEntry[];
}

/** What a kind passes to `close`: its method name plus anything worth recording (k, λ, models...). */
export type ScoresInfo = { method: string } & Record<string, unknown>;

/** scores.json */
export type ScoresMeta = ScoresInfo & { nTargets: number; nTrain: number; topK: number };

/**
 * The k largest (proponents) and k smallest (opponents) entries of one row, ordered
 * from the most extreme. One pass with two small sorted buffers: O(n) for small k.
 */
export function topK(row: ArrayLike<number>, k: number): { proponents: TopEntry[]; opponents: TopEntry[] } {
  const kk = Math.min(k, row.length);
  const hiIdx: number[] = [];
  const loIdx: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (Number.isNaN(row[i])) continue;
    insertTop(hiIdx, i, row, kk, (a, b) => a > b);
    insertTop(loIdx, i, row, kk, (a, b) => a < b);
  }
  return {
    proponents: hiIdx.map((index) => ({ index, score: row[index] })),
    opponents: loIdx.map((index) => ({ index, score: row[index] })),
  };
}

/** Keeps `buf` (indices, best first) as the k best of what it has seen. Ties keep the lower index. */
function insertTop(buf: number[], i: number, row: ArrayLike<number>, k: number, better: (a: number, b: number) => boolean): void {
  if (k === 0) return;
  const v = row[i];
  if (buf.length === k && !better(v, row[buf[k - 1]])) return;
  let pos = buf.length === k ? k - 1 : buf.length;
  while (pos > 0 && better(v, row[buf[pos - 1]])) pos--;
  buf.splice(pos, 0, i);
  if (buf.length > k) buf.pop();
}

/**
 * Streams a [nTargets, nTrain] score matrix to a SCORES artifact in `outDir`.
 * Usage: `append` row blocks in target order, then `close(meta)`; `abort()` on error.
 */
export class ScoresWriter {
  private readonly npy: NpyWriter;
  private readonly top: TargetTop[] = [];
  private rows = 0;

  constructor(
    readonly outDir: string,
    readonly nTrain: number,
    readonly targetIndex: Int32Array,
    readonly k = 10,
  ) {
    this.npy = new NpyWriter(join(outDir, SCORES.scores), 'float32', [nTrain]);
  }

  get rowsWritten(): number {
    return this.rows;
  }

  /** Appends whole rows (block.length = rows · nTrain), in target order. */
  append(block: Float32Array): void {
    const n = this.nTrain;
    if (block.length % n !== 0) throw new Error(`ScoresWriter: ${block.length} values is not a whole number of rows of ${n}`);
    const rows = block.length / n;
    if (this.rows + rows > this.targetIndex.length) {
      throw new Error(`ScoresWriter: ${this.rows + rows} rows written, only ${this.targetIndex.length} targets`);
    }
    for (let r = 0; r < rows; r++) {
      const row = block.subarray(r * n, (r + 1) * n);
      this.top.push({ target: this.targetIndex[this.rows + r], ...topK(row, this.k) });
    }
    this.npy.append(block);
    this.rows += rows;
  }

  /** Finishes the artifact and returns the metrics every scores kind reports. */
  close(meta: ScoresInfo): ScoresMeta {
    if (this.rows !== this.targetIndex.length) {
      this.abort();
      throw new Error(`ScoresWriter: ${this.rows} rows written for ${this.targetIndex.length} targets`);
    }
    this.npy.close();
    writeNpy(join(this.outDir, SCORES.targetIndex), this.targetIndex);
    writeJsonAtomic(join(this.outDir, SCORES.top), this.top);
    const full: ScoresMeta = { ...meta, nTargets: this.rows, nTrain: this.nTrain, topK: this.k };
    writeJsonAtomic(join(this.outDir, SCORES.meta), full);
    return full;
  }

  abort(): void {
    this.npy.abort();
  }

  /**
   * Lines for the log: where top.json will be (in the final store entry `dir`) and the
   * strongest proponents and opponents of the first few targets.
   */
  summary(dir: string, targets = 3, entries = 3): string[] {
    const fmt = (e: TopEntry) => `#${e.index} (${e.score >= 0 ? '+' : ''}${e.score.toPrecision(3)})`;
    const lines = [`top-${this.k} proponents and opponents of each target: ${join(dir, SCORES.top)}`];
    for (const t of this.top.slice(0, targets)) {
      lines.push(
        `  test #${t.target}: proponents ${t.proponents.slice(0, entries).map(fmt).join(' ')}; opponents ${t.opponents.slice(0, entries).map(fmt).join(' ')}`,
      );
    }
    return lines;
  }
}

/** A whole score matrix [targets, nTrain] at once (imports), through the same writer. */
export function writeScores(outDir: string, scores: Float32Array, targetIndex: Int32Array, nTrain: number, meta: ScoresInfo, k = 10): ScoresMeta {
  const writer = new ScoresWriter(outDir, nTrain, targetIndex, k);
  try {
    writer.append(scores);
  } catch (e) {
    writer.abort();
    throw e;
  }
  return writer.close(meta);
}
