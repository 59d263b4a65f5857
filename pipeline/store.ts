/**
 * The store: one folder per stage instance, named by its hash.
 *
 *   runs/store/<hash>/stage.json      what to run (written before the stage runs)
 *   runs/store/<hash>/units/<i>/      one finished work unit (with its unit.json)
 *   runs/store/<hash>/...             the stage's artifacts
 *   runs/store/<hash>/manifest.json   written last, atomically: the entry is complete
 *   runs/<experiment>/run.json        stage name -> {hash, dir, status, seconds, metrics}
 *                                     (the latest run)
 *   runs/<experiment>/history/<id>.json  every run's own record (HistoryRecord)
 *
 * Every write goes to a temporary name and is renamed into place (lib/io/atomic.ts, with
 * fsync of the file and its folder), so a killed run leaves only temporary files (removed
 * by the next run) and never a half artifact that looks whole.
 *
 * Nothing read back is trusted blindly. A manifest records the sha256 of every file of
 * its entry, a digest of its own content (so an edited manifest is detected), and the
 * content digest of each input it was computed from. An entry is valid only when its
 * manifest parses and matches its digest, every file has its recorded size and sha256,
 * and every input is valid with the content it had when the entry was computed (else
 * the entry is stale: its upstream was re-run with other bytes). Anything else is
 * reported and the stage re-runs; `attrib verify` checks the whole store.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import lockfile from 'proper-lockfile';
import { processAlive, TEMP_MARK, tempOwner, writeFileAtomic } from '../lib/io/atomic.ts';
import { fileDigest, sha256Hex } from '../lib/io/digest.ts';
import { isStageHash } from './hash.ts';
import type { Metrics, StageHash, StageOutcome } from './registry.ts';

/** stage.json: everything needed to run a unit from the store alone (`attrib unit`). */
export interface StageRecord {
  hash: StageHash;
  kind: string;
  version: string;
  params: unknown;
  inputs: Record<string, StageHash>;
  /** The seed in force (experiment seed or the stage's own). */
  seed: number;
  backend: string;
  /** Plugin modules (absolute paths) that register the kind. */
  plugins: string[];
  /** Number of work units, once known. */
  units?: number;
}

export interface Manifest {
  kind: string;
  version: string;
  hash: StageHash;
  /** The artifact kind produced (the kind's `output`). */
  output: string;
  params: unknown;
  inputs: Record<string, StageHash>;
  seed: number;
  backend: string;
  units: number;
  started: string;
  finished: string;
  seconds: number;
  metrics: Metrics;
  info: Record<string, unknown>;
  /** Every file of the entry (relative path -> bytes), to detect missing or truncated ones. */
  files: Record<string, number>;
  /** The sha256 (hex) of every file in `files`, to detect changed bytes. */
  digests?: Record<string, string>;
  /** Input name -> the content digest (`contentDigest`) of the input when this entry was computed. */
  inputDigests?: Record<string, string>;
  attrib: string;
  node: string;
  /** sha256 of this manifest's JSON without this field (set by `Store.writeManifest`). */
  manifestDigest?: string;
}

export type RunStatus = 'ran' | 'cached' | 'failed' | 'blocked' | 'pending';

export interface RunEntry {
  hash: StageHash;
  /** The store entry, relative to the run.json's folder (`../store/<hash>`). */
  dir: string;
  status: RunStatus;
  seconds: number;
  metrics: Metrics;
  error?: string;
}

/** runs/<experiment>/run.json: stage name -> entry. */
export type RunRecord = Record<string, RunEntry>;

/** runs/<experiment>/history/<id>.json: one run of one experiment, kept until gc forgets it. */
export interface HistoryRecord {
  /** Shared by the sweep points of one `attrib run`; sorts by start time. */
  id: string;
  experiment: string;
  /** The config file as given. */
  config: string;
  started: string;
  finished?: string;
  /** `running` until the run ends; a killed run's record stays `running` (shown as interrupted). */
  status: 'running' | 'complete' | 'failed';
  /** The stages asked for, when only part of the experiment ran (`attrib run CONFIG STAGE...`, `--until`). */
  selected?: string[];
  /** --set overrides as typed. */
  overrides: string[];
  /** The sweep point's values. */
  point: { path: string; value: unknown }[];
  /** The point's document as it ran (sweep values and overrides applied). */
  resolved: unknown;
  /** The project's commit, when the config is inside a git work tree. */
  git?: { commit: string; dirty: boolean };
  attrib: string;
  host: string;
  pid: number;
  stages: RunRecord;
}

/** Whether the run of a `running` record may still be going: its process is alive, or it ran on another machine (unknowable here). */
export function mayBeRunning(record: HistoryRecord): boolean {
  return record.status === 'running' && (record.host !== hostname() || processAlive(record.pid));
}

export interface GcOptions {
  dryRun?: boolean;
  /** Keep only the last N history records of each experiment (and those `keepSince` keeps). */
  keepLast?: number;
  /** Keep only history records that started at or after this time (and those `keepLast` keeps). */
  keepSince?: Date;
}

export interface GcResult {
  removed: StageHash[];
  kept: number;
  skippedLocked: StageHash[];
  /** History records removed (or that would be). */
  forgotten: { experiment: string; id: string }[];
}

/** `stale`: the entry is intact but an input's content changed since it was computed. */
export type ManifestCheck = { ok: true; manifest: Manifest } | { ok: false; missing: true } | { ok: false; missing: false; problem: string; stale?: boolean };

/** The digest of a manifest's own content: its JSON (as written) without `manifestDigest`. */
function sealOf(manifest: Manifest): string {
  const { manifestDigest: _, ...rest } = manifest;
  return sha256Hex(JSON.stringify(rest));
}

/**
 * What an entry holds, by content: the sha256 of its sorted (file, sha256) pairs. A
 * unit's unit.json is left out: it is bookkeeping (with the unit's seconds), so a re-run
 * that reproduces every artifact byte for byte keeps the content, and downstream cached.
 */
export function contentDigest(manifest: Manifest): string {
  const digests = manifest.digests ?? {};
  const artifacts = Object.keys(digests).filter((f) => !f.endsWith('/unit.json'));
  return sha256Hex(JSON.stringify(artifacts.sort().map((f) => [f, digests[f]])));
}

/** A held entry lock. */
export interface EntryLock {
  release(): Promise<void>;
  /** Set when the lock was lost (e.g. this process stalled past the stale time). */
  compromised(): Error | undefined;
}

/**
 * A lock whose holder stopped refreshing it for this long is taken over (after kill -9,
 * the next run waits this long). Generous, so a busy machine never steals a live lock.
 */
export const LOCK_STALE_MS = 10_000;
const LOCK_UPDATE_MS = 2000;
const STAGING = '.staging-';
/** Store entries gc removes at once. */
const GC_PARALLEL = 16;

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export class Store {
  readonly root: string;

  constructor(readonly runsDir: string) {
    this.root = join(runsDir, 'store');
  }

  entry(hash: StageHash): string {
    return join(this.root, hash);
  }

  unitDir(hash: StageHash, index: number): string {
    return join(this.entry(hash), 'units', String(index));
  }

  /** Removes every unit of an entry (a kind's scratchUnits, once combined). */
  removeUnits(hash: StageHash): void {
    rmSync(join(this.entry(hash), 'units'), { recursive: true, force: true });
  }

  /** A fresh private staging folder inside the entry. */
  staging(hash: StageHash, label: string): string {
    const dir = join(this.entry(hash), `${STAGING}${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  // --- stage.json -------------------------------------------------------------------

  writeStage(record: StageRecord): void {
    mkdirSync(this.entry(record.hash), { recursive: true });
    writeFileAtomic(join(this.entry(record.hash), 'stage.json'), JSON.stringify(record, null, 2));
  }

  readStage(hash: StageHash): StageRecord | undefined {
    try {
      return readJson<StageRecord>(join(this.entry(hash), 'stage.json'));
    } catch {
      return undefined;
    }
  }

  // --- manifest -----------------------------------------------------------------------

  /**
   * Reads and verifies an entry's manifest (see the top of this file): its own digest,
   * every file's size and sha256, and every input's content against what it was computed
   * from, recursively upstream. A file's sha256 is computed again only when the file
   * changed since this process last hashed it (lib/io/digest.ts); `fresh` always hashes.
   */
  readManifest(hash: StageHash, opts: { fresh?: boolean } = {}): ManifestCheck {
    const path = join(this.entry(hash), 'manifest.json');
    if (!existsSync(path)) return { ok: false, missing: true };
    let manifest: Manifest;
    try {
      manifest = readJson<Manifest>(path);
    } catch (e) {
      return { ok: false, missing: false, problem: `manifest.json does not parse (${(e as Error).message.split('\n')[0]})` };
    }
    if (!manifest || typeof manifest !== 'object' || manifest.hash !== hash || typeof manifest.files !== 'object' || manifest.files === null) {
      return { ok: false, missing: false, problem: 'manifest.json is not a manifest of this entry' };
    }
    if (manifest.manifestDigest !== sealOf(manifest)) {
      return { ok: false, missing: false, problem: manifest.manifestDigest ? 'manifest.json was edited after it was written (its digest does not match)' : 'manifest.json has no digest (edited, or written by an older attrib)' };
    }
    const digests = manifest.digests ?? {};
    for (const [file, size] of Object.entries(manifest.files)) {
      const filePath = join(this.entry(hash), file);
      let actual: number;
      try {
        actual = statSync(filePath).size;
      } catch {
        return { ok: false, missing: false, problem: `artifact ${file} is missing` };
      }
      if (actual !== size) return { ok: false, missing: false, problem: `artifact ${file} has ${actual} bytes, the manifest says ${size}` };
      if (digests[file] === undefined) return { ok: false, missing: false, problem: `artifact ${file} has no recorded sha256` };
      if (fileDigest(filePath, opts) !== digests[file]) return { ok: false, missing: false, problem: `artifact ${file} changed after it was written (its sha256 differs from the manifest's)` };
    }
    for (const [name, upstream] of Object.entries(manifest.inputDigests ? manifest.inputs : {})) {
      const check = this.readManifest(upstream, opts);
      if (!check.ok) {
        const why = check.missing ? 'is not finished' : 'is not valid';
        return { ok: false, missing: false, stale: true, problem: `stale: its input ${name} (store entry ${upstream.slice(0, 12)}) ${why}` };
      }
      if (contentDigest(check.manifest) !== manifest.inputDigests![name]) {
        return { ok: false, missing: false, stale: true, problem: `stale: its input ${name} (store entry ${upstream.slice(0, 12)}) was re-computed with other content since this entry was made` };
      }
    }
    return { ok: true, manifest };
  }

  /** Writes a manifest (last: it makes the entry finished), sealed with the digest of its content. */
  writeManifest(manifest: Manifest): void {
    const { manifestDigest: _, ...rest } = manifest;
    const sealed: Manifest = { ...rest, manifestDigest: sealOf(rest) };
    writeFileAtomic(join(this.entry(manifest.hash), 'manifest.json'), JSON.stringify(sealed, null, 2));
  }

  /** The sha256 of every file listed (relative path -> hex). */
  digestFiles(hash: StageHash, files: Record<string, number>): Record<string, string> {
    return Object.fromEntries(Object.keys(files).map((file) => [file, fileDigest(join(this.entry(hash), file))]));
  }

  /** The content digest of each input (name -> hash) as it is now; throws when one is not valid. */
  inputContent(inputs: Record<string, StageHash>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(inputs).map(([name, upstream]) => {
        const check = this.readManifest(upstream);
        if (!check.ok) throw new Error(`input ${name} (store entry ${upstream.slice(0, 12)}) is not valid: ${check.missing ? 'no manifest' : check.problem}`);
        return [name, contentDigest(check.manifest)];
      }),
    );
  }

  /**
   * Before a corrupt entry re-runs (lock held): removes the unit folders holding a file
   * that differs from what its old manifest recorded, so those units run again instead of
   * being combined (and sealed) as they are. Without readable digests, keeps them all.
   */
  removeDamagedUnits(hash: StageHash): number[] {
    let digests: unknown;
    try {
      digests = readJson<Manifest>(join(this.entry(hash), 'manifest.json')).digests;
    } catch {
      return [];
    }
    if (!digests || typeof digests !== 'object') return [];
    const damaged = new Set<number>();
    for (const [file, digest] of Object.entries(digests as Record<string, unknown>)) {
      const unit = /^units\/(\d+)\//.exec(file);
      if (!unit) continue;
      let actual: string | undefined;
      try {
        actual = fileDigest(join(this.entry(hash), file));
      } catch {
        actual = undefined;
      }
      if (actual !== digest) damaged.add(Number(unit[1]));
    }
    for (const index of damaged) rmSync(this.unitDir(hash, index), { recursive: true, force: true });
    return [...damaged].sort((a, b) => a - b);
  }

  removeManifest(hash: StageHash): void {
    rmSync(join(this.entry(hash), 'manifest.json'), { force: true });
  }

  /** Every file of a finished entry except its bookkeeping, with sizes. */
  listFiles(hash: StageHash): Record<string, number> {
    const files: Record<string, number> = {};
    const walk = (dir: string, rel: string) => {
      for (const d of readdirSync(dir, { withFileTypes: true })) {
        if (!rel && ['manifest.json', 'stage.json', '.lock'].includes(d.name)) continue;
        if (d.name.startsWith(STAGING) || d.name.includes(TEMP_MARK)) continue;
        const path = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) walk(join(dir, d.name), path);
        else files[path] = statSync(join(dir, d.name)).size;
      }
    };
    walk(this.entry(hash), '');
    return files;
  }

  // --- units --------------------------------------------------------------------------

  /** The outcome of finished unit i, or undefined when it has not finished. */
  readUnit(hash: StageHash, index: number): StageOutcome | undefined {
    try {
      return readJson<StageOutcome>(join(this.unitDir(hash, index), 'unit.json'));
    } catch {
      return undefined;
    }
  }

  finishedUnits(hash: StageHash): number[] {
    let names: string[];
    try {
      names = readdirSync(join(this.entry(hash), 'units'));
    } catch {
      return [];
    }
    return names
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((i) => this.readUnit(hash, i) !== undefined)
      .sort((a, b) => a - b);
  }

  /**
   * Moves a unit's staging folder (already holding unit.json) to units/<i> in one rename.
   * If another process finished the same unit first, keeps theirs.
   */
  commitUnit(hash: StageHash, index: number, staging: string): void {
    mkdirSync(join(this.entry(hash), 'units'), { recursive: true });
    const target = this.unitDir(hash, index);
    if (existsSync(target) && this.readUnit(hash, index) === undefined) rmSync(target, { recursive: true, force: true });
    try {
      renameSync(staging, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /** Moves everything a run()/combine() staged into the entry, replacing older copies. */
  commitStaged(hash: StageHash, staging: string): void {
    for (const name of readdirSync(staging)) {
      const target = join(this.entry(hash), name);
      if (name === 'units' || name === 'manifest.json' || name === 'stage.json') {
        throw new Error(`a stage may not write "${name}" into its outDir (the engine owns it)`);
      }
      rmSync(target, { recursive: true, force: true });
      renameSync(join(staging, name), target);
    }
    rmSync(staging, { recursive: true, force: true });
  }

  // --- locks and leftovers ------------------------------------------------------------

  /**
   * Takes the entry's cross-process lock, waiting while another process holds it.
   * Returns undefined instead when `done()` becomes true while waiting (the other
   * process finished the entry: reuse it).
   */
  async lock(hash: StageHash, opts: { onWait?: () => void; done?: () => boolean } = {}): Promise<EntryLock | undefined> {
    const dir = this.entry(hash);
    mkdirSync(dir, { recursive: true });
    let lost: Error | undefined;
    let waited = false;
    for (;;) {
      try {
        const release = await lockfile.lock(dir, {
          realpath: false,
          lockfilePath: join(dir, '.lock'),
          stale: LOCK_STALE_MS,
          update: LOCK_UPDATE_MS,
          onCompromised: (e) => {
            lost = e;
          },
        });
        return {
          release: async () => {
            if (!lost) await release().catch(() => {});
          },
          compromised: () => lost,
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
        if (!waited) opts.onWait?.();
        waited = true;
        if (opts.done?.()) return undefined;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  isLocked(hash: StageHash): boolean {
    try {
      return lockfile.checkSync(this.entry(hash), { realpath: false, lockfilePath: join(this.entry(hash), '.lock'), stale: LOCK_STALE_MS });
    } catch {
      return false;
    }
  }

  /**
   * Removes what a killed run left in an entry: staging folders, temporary files and
   * unit folders without a unit.json. Only call with the entry's lock held.
   */
  cleanup(hash: StageHash): string[] {
    const removed: string[] = [];
    const dir = this.entry(hash);
    if (!existsSync(dir)) return removed;
    for (const name of readdirSync(dir)) {
      if (name.startsWith(STAGING) || name.includes(TEMP_MARK)) {
        rmSync(join(dir, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
    const units = join(dir, 'units');
    if (existsSync(units)) {
      for (const name of readdirSync(units)) {
        if (!/^\d+$/.test(name) || this.readUnit(hash, Number(name)) === undefined) {
          rmSync(join(units, name), { recursive: true, force: true });
          removed.push(`units/${name}`);
        }
      }
    }
    return removed;
  }

  /** Empties an entry for a forced re-run (lock held), keeping the lock itself. */
  clear(hash: StageHash): void {
    const dir = this.entry(hash);
    for (const name of readdirSync(dir)) if (name !== '.lock') rmSync(join(dir, name), { recursive: true, force: true });
  }

  // --- run.json -----------------------------------------------------------------------

  runFile(experiment: string): string {
    return join(this.runsDir, experiment, 'run.json');
  }

  readRun(experiment: string): RunRecord | undefined {
    try {
      return readJson<RunRecord>(this.runFile(experiment));
    } catch {
      return undefined;
    }
  }

  writeRun(experiment: string, run: RunRecord): void {
    const dir = join(this.runsDir, experiment);
    mkdirSync(dir, { recursive: true });
    // Temporary files of runs that died (their pid is gone) are leftovers.
    for (const name of readdirSync(dir)) {
      const pid = tempOwner(name);
      if (pid && pid !== process.pid && !processAlive(pid)) rmSync(join(dir, name), { force: true });
    }
    writeFileAtomic(this.runFile(experiment), JSON.stringify(run, null, 2));
  }

  /** Folder names under runs/ that hold a run.json. */
  listRuns(): string[] {
    if (!existsSync(this.runsDir)) return [];
    return readdirSync(this.runsDir).filter((n) => n !== 'store' && existsSync(this.runFile(n)));
  }

  listEntries(): StageHash[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root).filter(isStageHash);
  }

  // --- run history ------------------------------------------------------------------

  historyDir(experiment: string): string {
    return join(this.runsDir, experiment, 'history');
  }

  writeHistory(record: HistoryRecord): void {
    // The experiment's folder first: a name too long for the file system is then named as that folder.
    mkdirSync(join(this.runsDir, record.experiment), { recursive: true });
    mkdirSync(this.historyDir(record.experiment), { recursive: true });
    writeFileAtomic(join(this.historyDir(record.experiment), `${record.id}.json`), JSON.stringify(record, null, 2));
  }

  /** An experiment's run records, oldest first; unreadable files are skipped. */
  readHistory(experiment: string): HistoryRecord[] {
    const dir = this.historyDir(experiment);
    if (!existsSync(dir)) return [];
    const records: HistoryRecord[] = [];
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.json') || name.includes(TEMP_MARK)) continue;
      try {
        const r = readJson<HistoryRecord>(join(dir, name));
        if (r && typeof r.id === 'string' && r.stages && typeof r.stages === 'object') records.push(r);
      } catch {
        // A record that does not parse is not a run to keep or show.
      }
    }
    return records.sort((a, b) => a.started.localeCompare(b.started) || a.id.localeCompare(b.id));
  }

  /** Experiments (folder names under runs/) with a run.json or run records. */
  listExperiments(): string[] {
    if (!existsSync(this.runsDir)) return [];
    return readdirSync(this.runsDir)
      .filter((n) => n !== 'store' && (existsSync(this.runFile(n)) || existsSync(this.historyDir(n))))
      .sort();
  }

  /**
   * Removes entries that neither a run.json nor a kept run record references (directly
   * or as an upstream input). With keepLast / keepSince, the run records they do not keep
   * are removed first (a record of a run still going is always kept).
   */
  async gc(opts: GcOptions = {}): Promise<GcResult> {
    const forgotten: GcResult['forgotten'] = [];
    const keptRecords: HistoryRecord[] = [];
    const pruning = opts.keepLast !== undefined || opts.keepSince !== undefined;
    for (const experiment of this.listExperiments()) {
      const records = this.readHistory(experiment);
      records.forEach((r, i) => {
        const live = mayBeRunning(r);
        const recent = opts.keepLast !== undefined && i >= records.length - opts.keepLast;
        const newer = opts.keepSince !== undefined && new Date(r.started).getTime() >= opts.keepSince.getTime();
        if (!pruning || live || recent || newer) {
          keptRecords.push(r);
          return;
        }
        forgotten.push({ experiment, id: r.id });
        if (!opts.dryRun) rmSync(join(this.historyDir(experiment), `${r.id}.json`), { force: true });
      });
    }
    const keep = new Set<StageHash>();
    const visit = (hash: StageHash) => {
      if (keep.has(hash)) return;
      keep.add(hash);
      const upstream = this.readStage(hash)?.inputs ?? {};
      for (const h of Object.values(upstream)) if (isStageHash(h)) visit(h);
    };
    const referenced = [...this.listRuns().map((run) => this.readRun(run) ?? {}), ...keptRecords.map((r) => r.stages)];
    for (const stages of referenced) {
      for (const entry of Object.values(stages)) if (entry && isStageHash(String(entry.hash))) visit(entry.hash);
    }
    const entries = this.listEntries();
    const unreferenced = entries.filter((hash) => !keep.has(hash));
    // Several removals at once: where each unlink waits on the disk (a journal commit,
    // an online discard), one at a time is ~10x slower (BENCHMARKS.md, "Store at scale").
    const limit = pLimit(GC_PARALLEL);
    const outcome = await Promise.all(
      unreferenced.map((hash) =>
        limit(async (): Promise<'removed' | 'locked'> => {
          // Checked right before the removal: an entry a run took up meanwhile is left alone.
          if (this.isLocked(hash)) return 'locked';
          if (!opts.dryRun) await rm(this.entry(hash), { recursive: true, force: true });
          return 'removed';
        }),
      ),
    );
    const removed = unreferenced.filter((_, i) => outcome[i] === 'removed');
    const skippedLocked = unreferenced.filter((_, i) => outcome[i] === 'locked');
    return { removed, kept: entries.length - removed.length, skippedLocked, forgotten };
  }
}
