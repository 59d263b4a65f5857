/**
 * sha256 content digests of files, as the store records them in manifests and checks
 * them when an entry is read. A foundation module (no ML): the engine may import it.
 *
 * A process remembers the digest of each file it hashed with the file's size, mtime and
 * inode, and hashes again only when one of them changed (as git's index does): a stage
 * whose units all read the same input verifies it once per process, not once per unit,
 * and any write to the file (in place or by rename) invalidates what was remembered.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

const CHUNK = 1 << 20;
const known = new Map<string, { size: number; mtimeNs: bigint; ino: bigint; digest: string }>();

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The sha256 (hex) of a file's bytes, read in 1 MiB chunks. */
export function fileDigest(path: string, opts: { fresh?: boolean } = {}): string {
  const st = statSync(path, { bigint: true });
  const memo = known.get(path);
  if (!opts.fresh && memo && memo.size === Number(st.size) && memo.mtimeNs === st.mtimeNs && memo.ino === st.ino) return memo.digest;
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, CHUNK, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  const digest = hash.digest('hex');
  known.set(path, { size: Number(st.size), mtimeNs: st.mtimeNs, ino: st.ino, digest });
  return digest;
}
