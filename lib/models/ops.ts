/**
 * Differentiable ops of the built-in networks with gradients written for the wasm
 * backend, where tfjs's own are slow or missing or wrong (tfjs 4.22, measured on the
 * 2-core dev machine):
 *
 *   matMul:  tf.matMul's gradient uses the transposeA/B flags, 10-50x slower on wasm
 *            than an explicit tf.transpose (64×784·784×128 backward: 28 ms → 4.4 ms).
 *              ∂x = ∂y · Wᵀ,  ∂W = xᵀ · ∂y
 *   conv2d:  wasm has no Conv2DBackpropFilter and a slow Conv2DBackpropInput (48 ms for
 *            a 64×14×14×16 layer). Here, for stride 1 and 'same' padding (odd k), both
 *            are forward convs:
 *              ∂x = conv2d(∂y, W flipped in space with in/out swapped)
 *              ∂W = conv2d(x_pad with batch and channels swapped, ∂y as the filter)
 *            (3x faster than patches(x)ᵀ · ∂y).
 *   maxPool: wasm's MaxPoolGrad is wrong (central differences disagree by 50%).
 *              ∂x = upsample(∂y) ⊙ [x = upsample(max)]
 */
import { tf } from '../backend.ts';

type Saved = tf.Tensor[];

type CustomOp = (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: Saved) => tf.Tensor[] };

function custom(f: CustomOp) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const { value, gradFunc } = f(args.slice(0, -1) as tf.Tensor[], save);
    return { value, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => gradFunc(dy as tf.Tensor, saved) };
  });
}

/** custom(f), made on first use: TensorFlow.js loads in initBackend, after this module. */
function customOnce(f: CustomOp): ReturnType<typeof custom> {
  let op: ReturnType<typeof custom> | undefined;
  return (...inputs) => (op ??= custom(f))(...inputs);
}

const matMulOp = customOnce(([x, w], save) => {
  save([x, w]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy, [sx, sw]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(sw as tf.Tensor2D)), tf.matMul(tf.transpose(sx as tf.Tensor2D), dy as tf.Tensor2D)],
  };
});

/** [n, k] · [k, m] → [n, m], differentiable without transposed matMul flags. */
export function matMul(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return matMulOp(x, w) as tf.Tensor2D;
}

/**
 * x·W where x is data (a network's input): only ∂W = xᵀ·∂y is computed. x is closed
 * over, not an input of the op, so asking for ∂x fails loudly instead of being zero.
 * Skipping ∂x = ∂y·Wᵀ saves ~40% of an MNIST MLP's backward pass (its first layer holds
 * 100k of 118k weights).
 */
export function matMulData(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const op = custom(([wi], save) => {
    save([x]); // kept for the backward pass even when x itself is disposed before it
    return { value: tf.matMul(x, wi as tf.Tensor2D), gradFunc: (dy, [sx]) => [tf.matMul(tf.transpose(sx as tf.Tensor2D), dy as tf.Tensor2D)] };
  });
  return op(w) as tf.Tensor2D;
}

const extractors = new Map<string, tf.Tensor4D>();

/** Depthwise filter [k, k, cin, k²] whose output channel c·k² + (dy·k + dx) copies x[y+dy−p, x+dx−p, c]. */
function extractor(k: number, cin: number): tf.Tensor4D {
  const key = `${k}x${cin}`;
  let e = extractors.get(key);
  if (!e || e.isDisposed) {
    const data = new Float32Array(k * k * cin * k * k);
    for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) for (let c = 0; c < cin; c++) data[((dy * k + dx) * cin + c) * k * k + dy * k + dx] = 1;
    e = tf.keep(tf.tensor4d(data, [k, k, cin, k * k]));
    extractors.set(key, e);
  }
  return e;
}

/**
 * 'same'-padded k×k patches of x [B, H, W, C] as [B, H, W, C·k²] in [cin, kh, kw] order
 * (channel-major, what a depthwise conv gives; see `im2col` for [kh, kw, cin]).
 */
function patchesChannelMajor(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return tf.depthwiseConv2d(x, extractor(k, x.shape[3]), 1, 'same');
}

/** [B, H, W, C] → [B, H, W, k·k·C]: 'same'-padded patches in [kh, kw, cin] order (W's flattening). */
export function im2col(x: tf.Tensor4D, k: number): tf.Tensor4D {
  if (k === 1) return x;
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const p = patchesChannelMajor(x, k);
    return tf.reshape(tf.transpose(tf.reshape(p, [b * h * w, c, k * k]), [0, 2, 1]), [b, h, w, k * k * c]) as tf.Tensor4D;
  });
}

/**
 * ∂W[kh, kw, ci, co] = Σ_{b,y,x} x_pad[b, y+kh, x+kw, ci] · ∂y[b, y, x, co]: a 'valid'
 * conv of x_pad as [ci, H+2p, W+2p, B] with ∂y as the filter [H, W, B, co].
 */
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number): tf.Tensor4D {
  const p = (k - 1) / 2;
  const xt = tf.transpose(p > 0 ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) : x, [3, 1, 2, 0]) as tf.Tensor4D;
  const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
  return tf.transpose(tf.conv2d(xt, dyt, 1, 'valid'), [1, 2, 0, 3]) as tf.Tensor4D;
}

const conv2dOp = customOnce(([x, w], save) => {
  save([x, w]);
  return {
    value: tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    gradFunc: (dy, [sx, sw]) => {
      const k = sw.shape[0];
      const flipped = tf.transpose(tf.reverse(sw, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      const dx = tf.conv2d(dy as tf.Tensor4D, flipped, 1, 'same');
      const dw = filterGrad(sx as tf.Tensor4D, dy as tf.Tensor4D, k);
      return [dx, dw];
    },
  };
});

/** conv2d of x [B, H, W, cin] with W [k, k, cin, cout], stride 1, 'same' padding (k odd). */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  if (w.shape[0] % 2 !== 1 || w.shape[0] !== w.shape[1]) throw new Error(`conv2d: square odd kernels only, got ${w.shape[0]}×${w.shape[1]}`);
  return conv2dOp(x, w) as tf.Tensor4D;
}

/** conv2d of data x (a network's input): only ∂W is computed, as for matMulData. */
export function conv2dData(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const k = w.shape[0];
  if (k % 2 !== 1 || k !== w.shape[1]) throw new Error(`conv2d: square odd kernels only, got ${w.shape[0]}×${w.shape[1]}`);
  const op = custom(([wi], save) => {
    save([x]);
    return { value: tf.conv2d(x, wi as tf.Tensor4D, 1, 'same'), gradFunc: (dy, [sx]) => [filterGrad(sx as tf.Tensor4D, dy as tf.Tensor4D, k)] };
  });
  return op(w) as tf.Tensor4D;
}

const pools = new Map<number, (x: tf.Tensor) => tf.Tensor>();

function poolOp(p: number) {
  let op = pools.get(p);
  if (!op) {
    op = custom(([x], save) => {
      const y = tf.maxPool(x as tf.Tensor4D, p, p, 'valid');
      save([x, y]);
      return {
        value: y,
        gradFunc: (dy, [sx, sy]) => {
          const [b, h, w, c] = sx.shape;
          const [, ho, wo] = sy.shape;
          const size: [number, number] = [ho * p, wo * p];
          const cropped = size[0] === h && size[1] === w ? sx : tf.slice(sx, [0, 0, 0, 0], [b, size[0], size[1], c]);
          const mask = tf.cast(tf.equal(cropped, tf.image.resizeNearestNeighbor(sy as tf.Tensor4D, size)), 'float32');
          const dx = tf.mul(tf.image.resizeNearestNeighbor(dy as tf.Tensor4D, size), mask);
          return [size[0] === h && size[1] === w ? dx : tf.pad(dx, [[0, 0], [0, h - size[0]], [0, w - size[1]], [0, 0]])];
        },
      };
    });
    pools.set(p, op);
  }
  return op;
}

/** Max-pool with window = stride = p, 'valid' (rows/columns that do not fill a window are dropped). */
export function maxPool(x: tf.Tensor4D, p: number): tf.Tensor4D {
  return poolOp(p)(x) as tf.Tensor4D;
}
