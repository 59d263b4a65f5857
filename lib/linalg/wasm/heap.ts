/**
 * One instance of the float64 kernels per thread, and the memory they work in.
 *
 * Matrices live in the module's linear memory as row-major float64 blocks addressed by
 * element offset. `alloc` is a bump allocator: an operation takes `mark()`, allocates
 * what it needs up front, and `release(mark)` at the end. Growing the memory detaches
 * old typed-array views, so read `heap.f64` again after any `alloc`.
 */
import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts';

interface KernelExports {
  memory: WebAssembly.Memory;
  gemm4(c: number, ldc: number, a: number, sai: number, sam: number, b: number, ldb: number, m: number, n: number, k: number): void;
}

const PAGE_DOUBLES = 65536 / 8;
const MAX_DOUBLES = 65536 * PAGE_DOUBLES; // 4 GiB: the wasm32 limit
/** Heap memory kept between operations; a larger heap is dropped when it is empty. */
const KEEP_BYTES = 256 << 20;

export class Heap {
  readonly kernels: KernelExports;
  f64: Float64Array;
  private top = 0;

  constructor() {
    const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
    // Synchronous compile: the module is under 1 kB.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    this.kernels = instance.exports as unknown as KernelExports;
    this.f64 = new Float64Array(this.kernels.memory.buffer);
  }

  /** Element offset of n fresh float64 values (16-byte aligned, contents unspecified). */
  alloc(n: number): number {
    const at = (this.top + 1) & ~1;
    const end = at + n;
    if (end > MAX_DOUBLES) throw new RangeError(`linalg: ${(end * 8) / 2 ** 30} GiB exceeds the 4 GiB of a wasm memory`);
    const have = this.kernels.memory.buffer.byteLength / 8;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE_DOUBLES);
      this.kernels.memory.grow(pages);
      this.f64 = new Float64Array(this.kernels.memory.buffer);
    }
    this.top = end;
    return at;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
    // A wasm memory never shrinks: once everything is released, drop a big one and let the
    // garbage collector take it (the next call starts a fresh, small heap).
    if (mark === 0 && this.kernels.memory.buffer.byteLength > KEEP_BYTES && heap === this) heap = undefined;
  }

  /** Copy values into a fresh allocation; returns its offset. */
  put(values: ArrayLike<number>): number {
    const at = this.alloc(values.length);
    this.f64.set(values, at);
    return at;
  }
}

let heap: Heap | undefined;

/** This thread's heap (module-level state is per worker thread). */
export function theHeap(): Heap {
  heap ??= new Heap();
  return heap;
}
