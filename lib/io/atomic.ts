/**
 * The one way attrib writes a file: to a temporary name in the same folder, fsync, rename
 * into place, fsync the folder. A reader (or a killed writer's next run) sees the old file
 * or the new one, never half of one, and a finished write survives a power cut.
 *
 * Temporary names are `.<name>.tmp-<pid>-<random>`: the `.tmp-` mark lets the store skip
 * and remove them, the pid tells whether their writer is still alive.
 *
 * A foundation module (no ML): the engine (pipeline/) may import it.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** What every temporary name contains. */
export const TEMP_MARK = '.tmp-';

/** A fresh temporary name beside `path` (a file or a folder). */
export function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** The pid that wrote a temporary name, or undefined for other names. */
export function tempOwner(name: string): number | undefined {
  const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
  return pid > 0 ? pid : undefined;
}

/** Whether a process with this pid exists (EPERM: it exists, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes all of `buf` at the file's current position (writeSync may write less). */
export function writeAll(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, Math.min(buf.length - done, 1 << 30));
}

/** Best effort: make a rename durable (some file systems refuse fsync on a folder). */
export function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here */
  }
}

/** Writes `data` to `path` atomically and durably (see the top of this file). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  syncFolder(dirname(path));
}
