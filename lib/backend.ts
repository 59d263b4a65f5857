/**
 * TensorFlow.js backend selection, once per thread.
 *
 *   backend: auto | wasm | cpu | tensorflow | tensorflow-gpu
 *
 * `auto` takes @tensorflow/tfjs-node-gpu when it is installed and loads, else
 * @tensorflow/tfjs-node when installed, else wasm, else cpu. The two native packages are
 * optional: they download libtensorflow when installed (which fails offline), so they are
 * never dependencies of attrib (docs/backends.md says how to install them). Asking for a
 * backend that is not there is a one-line `BackendError` naming the package to install.
 *
 * Measured on the 2-core dev machine (BENCHMARKS.md, "Kernels"): wasm runs one thread per
 * backend instance in Node at about 16-22 GFLOP/s; `cpu` is plain JS at about 0.5 GFLOP/s
 * (never use it for real work). On wasm, matMul's transposeA/B flags are 10-50x slower
 * than an explicit tf.transpose first: code here and in stages/ transposes explicitly.
 * Parallelism on CPU comes from running units in worker threads, each calling
 * initBackend() for its own backend instance.
 */
import { isMainThread } from 'node:worker_threads';
// Types only: TensorFlow.js itself loads in initBackend (loadTf), so that what never
// computes (`attrib --version`, `validate`, `plan`, ...) starts without it.
import type * as TF from '@tensorflow/tfjs-core';
// The chained methods' types (x.reshape(...) augments tf.Tensor); erased from the JavaScript.
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import { NATIVE } from './native-backends.ts';

let loaded: Promise<typeof TF> | undefined;
let core: typeof TF | undefined;

/**
 * Loads TensorFlow.js once per thread: tfjs-core with the two backends attrib ships (the
 * union package @tensorflow/tfjs would add layers, converter, data and webgl, about
 * 220 MB, that nothing here uses; the native packages depend on @tensorflow/tfjs
 * themselves, whose tfjs-core npm dedupes with ours), and what the union package adds
 * to core besides its backends: the gradients of every op (tf.grad, customGrad) and the
 * chained methods, bundled by scripts/build-tfjs-extras.mjs (tfjs-core ships them only
 * in a form Node cannot load). In this order, as the static imports had them.
 */
function loadTf(): Promise<typeof TF> {
  loaded ??= (async () => {
    const tfjs = await import('@tensorflow/tfjs-core');
    await import(new URL('./tfjs-extras.js', import.meta.url).href); // beside this module (the build copies it to dist/lib/)
    await import('@tensorflow/tfjs-backend-cpu');
    await import('@tensorflow/tfjs-backend-wasm');
    return (core = tfjs);
  })();
  return loaded;
}

/**
 * TensorFlow.js, usable once this thread's `await initBackend(...)` has run (every stage
 * kind calls it before any tensor code); before that, a use is a programming error that
 * says so instead of reading a property of undefined.
 */
export const tf: typeof TF = new Proxy({} as typeof TF, {
  get(_, name) {
    if (!core) throw new Error(`TensorFlow.js is not loaded yet (tf.${String(name)}): await initBackend() first`);
    return Reflect.get(core, name);
  },
});
/** tf's types: `tf.Tensor2D` and the rest, as with `import * as tf`. */
export declare namespace tf {
  export type Tensor<R extends TF.Rank = TF.Rank> = TF.Tensor<R>;
  export type Scalar = TF.Scalar;
  export type Tensor1D = TF.Tensor1D;
  export type Tensor2D = TF.Tensor2D;
  export type Tensor3D = TF.Tensor3D;
  export type Tensor4D = TF.Tensor4D;
  export type Variable<R extends TF.Rank = TF.Rank> = TF.Variable<R>;
  export type GradSaveFunc = TF.GradSaveFunc;
  export type Rank = TF.Rank;
  export namespace Rank {
    export type R4 = TF.Rank.R4;
  }
}

export const BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];
/** A backend actually in use. */
export type BackendName = Exclude<BackendRequest, 'auto'>;

export interface BackendInUse {
  name: BackendName;
  /** Why this one, e.g. "auto: @tensorflow/tfjs-node is not installed". */
  reason: string;
}

/** What stages put into their outcome's `info`, so it lands in every manifest. */
export interface BackendInfo {
  backend: BackendName;
  backendReason: string;
}

/** A requested backend that cannot be used. The message is one line, fit to show a user. */
export class BackendError extends Error {
  override name = 'BackendError';
}


type Probe = { ok: true } | { ok: false; why: string };

/** Imports a native tfjs package; says why not when it cannot be used. */
async function loadNative(pkg: string): Promise<Probe> {
  try {
    await import(pkg);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && String(err.message).includes(pkg);
    return { ok: false, why: missing ? `${pkg} is not installed` : `${pkg} failed to load (${firstLine(err)})` };
  }
  // The package registers "tensorflow" with the @tensorflow/tfjs copy it resolves; a
  // different copy than ours would leave our engine without it.
  if (!tf.findBackendFactory('tensorflow')) {
    return { ok: false, why: `${pkg} loaded but registered with another copy of @tensorflow/tfjs-core (install it at version ${tf.version_core})` };
  }
  return { ok: true };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0].slice(0, 200);
}

async function use(name: 'wasm' | 'cpu' | 'tensorflow'): Promise<boolean> {
  // tfjs's cpu backend prints a multi-line "install tfjs-node" banner on first use in Node;
  // our one line already says which backend runs and why. PROD only silences warnings.
  if (name === 'cpu') tf.env().set('PROD', true);
  try {
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok;
  } catch {
    return false;
  }
}

async function select(requested: string): Promise<BackendInUse> {
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new BackendError(`unknown backend "${requested}" (expected one of ${BACKENDS.join(', ')})`);
  }
  await loadTf();
  const req = requested as BackendRequest;
  if (req === 'tensorflow' || req === 'tensorflow-gpu') {
    const pkg = NATIVE[req];
    const probe = await loadNative(pkg);
    if (!probe.ok) throw new BackendError(`backend ${req}: ${probe.why}; install it with \`npm install ${pkg}\` (see docs/backends.md)`);
    if (!(await use('tensorflow'))) throw new BackendError(`backend ${req}: ${pkg} is installed but its backend failed to initialize`);
    return { name: req, reason: 'requested' };
  }
  if (req === 'wasm') {
    if (!(await use('wasm'))) throw new BackendError('backend wasm: @tensorflow/tfjs-backend-wasm failed to initialize; reinstall it with `npm install @tensorflow/tfjs-backend-wasm`');
    return { name: 'wasm', reason: 'requested' };
  }
  if (req === 'cpu') {
    await use('cpu');
    return { name: 'cpu', reason: 'requested' };
  }
  // auto: the fastest that is installed and loads.
  const gpu = await loadNative(NATIVE['tensorflow-gpu']);
  if (gpu.ok && (await use('tensorflow'))) return { name: 'tensorflow-gpu', reason: `auto: ${NATIVE['tensorflow-gpu']} is installed` };
  const node = gpu.ok ? gpu : await loadNative(NATIVE.tensorflow);
  if (node.ok && (await use('tensorflow'))) return { name: 'tensorflow', reason: `auto: ${NATIVE.tensorflow} is installed` };
  const why = gpu.ok ? 'the tensorflow backend failed to initialize' : (node as { why: string }).why;
  if (await use('wasm')) return { name: 'wasm', reason: `auto: ${why}` };
  await use('cpu');
  return { name: 'cpu', reason: `auto: ${why}; wasm failed to initialize` };
}

/**
 * The engine's preflight for `attrib run`: selects the backend in the main thread (which
 * prints the one `backend: ...` line) and turns a missing package into a config error.
 */
export async function backendPreflight({ backend, quiet }: { backend: string; quiet?: boolean }): Promise<string | undefined> {
  try {
    if (quiet) announced = true; // --quiet: select it, say nothing
    await initBackend(backend);
    return undefined;
  } catch (e) {
    if (e instanceof BackendError) return e.message;
    throw e;
  }
}

const selected = new Map<string, Promise<BackendInUse>>();
let announced = false;

/**
 * Selects the backend for this thread (memoized per request) and returns which one is in
 * use and why. The first selection in the main thread prints one line to stderr,
 * `backend: wasm (auto: @tensorflow/tfjs-node is not installed)`; worker threads print
 * nothing (the main thread should call this once before it starts them, which also turns
 * a missing package into an early error). Throws BackendError (one line) when a requested
 * backend is missing.
 */
export function initBackend(requested: string = 'auto'): Promise<BackendInUse> {
  let p = selected.get(requested);
  if (!p) {
    p = select(requested).then(
      (b) => {
        if (!announced && isMainThread) {
          announced = true;
          process.stderr.write(`backend: ${b.name} (${b.reason})\n`);
        }
        return b;
      },
      (e) => {
        selected.delete(requested);
        throw e;
      },
    );
    selected.set(requested, p);
  } else {
    // Memoized, but another request may have switched tf's global backend since.
    p = p.then(async (b) => {
      const tfName = b.name === 'tensorflow-gpu' ? 'tensorflow' : b.name;
      if (tf.getBackend() !== tfName) await use(tfName);
      return b;
    });
  }
  return p;
}

/** `{backend, backendReason}` for a stage outcome's `info` (selects the backend if needed). */
export async function backendInfo(requested: string = 'auto'): Promise<BackendInfo> {
  const b = await initBackend(requested);
  return { backend: b.name, backendReason: b.reason };
}
