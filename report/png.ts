/**
 * Examples as pictures: a minimal PNG encoder (8-bit grey or RGB, no filtering, zlib
 * from node:zlib) and the per-image rescaling that makes normalized features visible.
 * Exact pixels, no dependency; plots go through resvg instead (plots.ts).
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG bytes of 8-bit pixels, row-major [height, width, channels] with channels 1 (grey) or 3 (RGB). */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (pixels.length !== width * height * channels) throw new Error(`png: ${pixels.length} bytes is not ${height}×${width}×${channels}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // colour type: grey or RGB
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1); // filter 0
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * One example [H, W, C] of normalized floats as 8-bit pixels: rescaled per image from
 * its own min..max to 0..255 (normalization shifts and scales differ per data set, and
 * a picture only needs contrast). Channels other than 1 or 3: the first channel, grey.
 */
export function imagePixels(values: ArrayLike<number>, shape: readonly number[]): { pixels: Uint8Array; width: number; height: number; channels: 1 | 3 } {
  const [height = 1, width = values.length, c = 1] = shape.length === 2 ? [shape[0], shape[1], 1] : shape;
  const channels: 1 | 3 = c === 3 ? 3 : 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const pixels = new Uint8Array(height * width * channels);
  for (let p = 0; p < height * width; p++) {
    for (let ch = 0; ch < channels; ch++) {
      const v = values[p * c + ch]!;
      pixels[p * channels + ch] = Number.isFinite(v) ? Math.round(((v - (hi > lo ? lo : lo - 0.5)) / span) * 255) : 0;
    }
  }
  return { pixels, width, height, channels };
}

/** A data: URI of the example as a PNG. */
export function imageDataUri(values: ArrayLike<number>, shape: readonly number[]): string {
  const { pixels, width, height, channels } = imagePixels(values, shape);
  return `data:image/png;base64,${encodePng(pixels, width, height, channels).toString('base64')}`;
}
