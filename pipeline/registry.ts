/**
 * The one seam between the engine and the machine learning.
 *
 * `pipeline/` never imports from `stages/`. Stage kinds (and plugins) describe
 * themselves with a `StageKind` and register it here; the engine only ever sees this
 * interface. A kind either does its work in one `run()`, or splits it into work units
 * (`units()` + `runUnit(i)` + `combine()`), which is what resume, worker threads and
 * distributed executors operate on.
 */
import type { z } from 'zod';

/** A stage instance's content hash (sha256 hex). Branded so a path cannot pass for one. */
export type StageHash = string & { readonly __brand: 'StageHash' };

/** Numbers a person reads first; stored in the manifest and in run.json. */
export type Metrics = Record<string, number | string | boolean | null>;

/** What a stage or a unit hands back to the engine. Everything must be JSON. */
export interface StageOutcome {
  metrics?: Metrics;
  /** Free-form provenance recorded in the manifest (e.g. the tensor backend and why). */
  info?: Record<string, unknown>;
}

/** How a named input of a kind is declared. */
export interface InputSpec {
  /** Artifact kinds accepted for this input (the `output` of the upstream kind). */
  kinds: readonly string[];
  optional?: boolean;
  /**
   * Takes a list of stages (`inputs: {lds: [a, b]}`; one name is a list of one). They
   * arrive as ctx.inputs['lds[0]'], ctx.inputs['lds[1]'], ...: read them with inputList().
   */
  many?: boolean;
  description?: string;
}

/** The name under which item i of a list input arrives in ctx.inputs (and in hashes). */
export function listInputName(input: string, index: number): string {
  return `${input}[${index}]`;
}

/** The artifacts of a list input (InputSpec.many), in the config's order. */
export function inputList(inputs: Record<string, Artifact>, input: string): Artifact[] {
  const items: Artifact[] = [];
  for (let i = 0; listInputName(input, i) in inputs; i++) items.push(inputs[listInputName(input, i)]!);
  return items;
}

/** A finished upstream stage, as a downstream stage sees it. Read-only. */
export interface Artifact {
  /** The artifact kind (the producer's `output`). */
  kind: string;
  /** The stage kind that produced it. */
  stageKind: string;
  hash: StageHash;
  /** Absolute path of the store entry (`runs/store/<hash>`); artifacts sit directly in it. */
  dir: string;
  /** The producer's resolved params (defaults applied). */
  params: unknown;
  metrics: Metrics;
  /** The number of work units the producer had (0 for a kind with `run()`). */
  units: number;
  /** The producer's own inputs, so e.g. `models.inputs.data` reaches the data set. */
  inputs: Record<string, Artifact>;
}

/** Everything a stage may know while it runs. It never sees the scheduler. */
export interface StageContext<P = unknown> {
  params: P;
  inputs: Record<string, Artifact>;
  hash: StageHash;
  /** 32-bit seed derived from (experiment seed, stage hash). */
  seed: number;
  /** The config's `backend:` setting (auto | wasm | cpu | tensorflow | tensorflow-gpu). */
  backend: string;
  /** Absolute path of the final store entry (for reading finished units). */
  dir: string;
  /**
   * Where to write this step's files. A private staging folder: the engine moves its
   * contents into place only after the step returns, so a killed step leaves nothing
   * that looks whole.
   */
  outDir: string;
  /** A line of progress or information for the person watching. */
  log(message: string): void;
  /** The extension tables (data sources, model kinds, ...) of the registry running the stage. */
  registry: Extensions;
}

export interface UnitContext<P = unknown> extends StageContext<P> {
  index: number;
  /** Number of units of this stage. */
  count: number;
  /** 32-bit seed derived from (experiment seed, stage hash, unit index). */
  seed: number;
  /** Report progress within the unit (0..1), for ETAs on long units. Optional to call. */
  progress(fraction: number): void;
}

export interface CombineContext<P = unknown> extends StageContext<P> {
  /** Number of units. */
  count: number;
  /** Absolute path of finished unit i (`<dir>/units/<i>`). */
  unitDir(index: number): string;
  /** What each unit returned, by index. */
  unitOutcomes: StageOutcome[];
}

interface StageKindBase<P> {
  /** The `kind:` name in configs: [a-z][a-z0-9_-]*. */
  name: string;
  /** Part of the hash: bump it when the kind's math or file layout changes. */
  version: string;
  /** One line for `attrib kinds`. */
  description: string;
  /** The equation it computes, shown by `attrib kinds NAME`. */
  equation?: string;
  /**
   * Params schema, or a function of the registry that builds it (a union over the model
   * kinds or data sources registered there). Read through paramsSchema() at validation
   * time, after plugins have registered.
   */
  readonly params: z.ZodType<P> | ((registry: Extensions) => z.ZodType<P>);
  inputs: Record<string, InputSpec>;
  /** The artifact kind it produces (what downstream InputSpec.kinds name). */
  output: string;
  /**
   * What the params point to outside the store, e.g. the sha256 of a CSV file a data set
   * reads. Hashed with the params (DVC-style), so an edited file re-runs the stage
   * instead of being served from cache. Called at plan time; omit for kinds that read
   * only their inputs. A mistake the user made there (a missing file) is a ParamsError.
   */
  fingerprint?(params: P, registry: Extensions): unknown;
}

export interface SingleStepKind<P = any> extends StageKindBase<P> {
  run(ctx: StageContext<P>): Promise<StageOutcome | void>;
}

export interface UnitKind<P = any> extends StageKindBase<P> {
  /** How many units; called once the inputs are finished. */
  units(ctx: StageContext<P>): number | Promise<number>;
  /** Writes only into ctx.outDir (the unit's staging folder). Runs in a worker thread. */
  runUnit(ctx: UnitContext<P>): Promise<StageOutcome | void>;
  combine(ctx: CombineContext<P>): Promise<StageOutcome | void>;
  /**
   * The units' files are scratch that combine() folds into the entry (e.g. linearize's
   * chunks of φ, copied into per-model arrays): the engine removes units/ once combine
   * has returned, before the manifest, so the entry holds one copy instead of two. A kill
   * in between leaves no manifest and no units: the stage re-runs whole.
   */
  scratchUnits?: boolean;
}

export type StageKind<P = any> = SingleStepKind<P> | UnitKind<P>;

export function hasUnits(kind: StageKind): kind is UnitKind {
  return 'runUnit' in kind && typeof (kind as UnitKind).runUnit === 'function';
}

/** A kind whose params schema is fixed (not built from the registry): `kind.params.parse` works. */
export type FixedParamsKind<P> = StageKind<P> & { readonly params: z.ZodType<P> };

/** Identity helper that gives a kind literal its types. */
export function defineStage<P>(kind: FixedParamsKind<P>): FixedParamsKind<P>;
export function defineStage<P>(kind: StageKind<P>): StageKind<P>;
export function defineStage<P>(kind: StageKind<P>): StageKind<P> {
  return kind;
}

/** A kind's params schema as `registry` builds it: the one way the engine reads `params`. */
export function paramsSchema<P>(kind: StageKind<P>, registry: Extensions): z.ZodType<P> {
  return typeof kind.params === 'function' ? kind.params(registry) : kind.params;
}

/**
 * The key of one extension table (model kinds, data sources, executors, ...): made once
 * with extensionPoint() and imported wherever the table is read or extended, so a typo
 * is a compile error and the values are typed. `name` is only for messages and for
 * telling tables apart.
 */
export interface ExtensionPoint<T> {
  readonly name: string;
  /** Never set: makes ExtensionPoint<A> and ExtensionPoint<B> different types (invariant in T). */
  readonly __values?: (value: T) => T;
}

export function extensionPoint<T>(name: string): ExtensionPoint<T> {
  return { name };
}

/** Read access to a registry's extension tables: what kinds see at validation and run time. */
export interface Extensions {
  extensions<T>(point: ExtensionPoint<T>): ReadonlyMap<string, T>;
}

const NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * Stage kinds plus typed extension points (model kinds, data sources, ...) that
 * `stages/` defines and plugins add to. Everything lives in the object: two registries
 * in one process share nothing.
 */
export class Registry implements Extensions {
  readonly stages = new Map<string, StageKind>();
  private readonly points = new Map<string, Map<string, unknown>>();

  registerStage(kind: StageKind): void {
    if (!NAME.test(kind.name)) throw new RegistryError(`stage kind name "${kind.name}" must match ${NAME}`);
    if (this.stages.has(kind.name)) throw new RegistryError(`stage kind "${kind.name}" is registered twice`);
    const k = kind as Partial<SingleStepKind & UnitKind>;
    if (typeof k.run !== 'function' && !(k.units && k.runUnit && k.combine)) {
      throw new RegistryError(`stage kind "${kind.name}" needs run() or units()/runUnit()/combine()`);
    }
    this.stages.set(kind.name, kind);
  }

  stage(name: string): StageKind | undefined {
    return this.stages.get(name);
  }

  /** The table of one extension point, read-only: add to it with register(). */
  extensions<T>(point: ExtensionPoint<T>): ReadonlyMap<string, T> {
    return this.table(point);
  }

  register<T>(point: ExtensionPoint<T>, name: string, value: NoInfer<T>): void {
    const map = this.table(point);
    if (!NAME.test(name)) throw new RegistryError(`${point.name} name "${name}" must match ${NAME}`);
    if (map.has(name)) throw new RegistryError(`${point.name} "${name}" is registered twice`);
    map.set(name, value);
  }

  private table<T>(point: ExtensionPoint<T>): Map<string, T> {
    // A JavaScript plugin may still pass a string, which the types rule out: say so instead of ignoring it.
    if (typeof point?.name !== 'string') throw new RegistryError(`${JSON.stringify(point)} is not an extension point: pass its key, e.g. DATA_SOURCES or MODEL_KINDS from 'attrib'`);
    let map = this.points.get(point.name);
    if (!map) this.points.set(point.name, (map = new Map()));
    return map as Map<string, T>;
  }
}

export class RegistryError extends Error {}

/**
 * A user's mistake in a stage's params that only the kind can see (a file that does not
 * exist): thrown from `fingerprint`, reported like a config error at params.<path>.
 */
export class ParamsError extends Error {
  constructor(
    message: string,
    readonly path: readonly (string | number)[] = [],
  ) {
    super(message);
  }
}

/**
 * A check that stages/ contributes (`registry.register(PREFLIGHTS, name, check)`), run
 * once before `attrib run` starts any worker: e.g. that the requested tensor backend is
 * installed. Returns a one-line problem (reported at the config's `backend:` line, exit
 * 2) or undefined.
 */
export type Preflight = (experiment: { backend: string; quiet?: boolean }) => Promise<string | undefined> | string | undefined;

export const PREFLIGHTS = extensionPoint<Preflight>('preflight');

/** What a plugin module exports: `export default function register(registry) {...}`. */
export type Plugin = (registry: Registry) => void | Promise<void>;
