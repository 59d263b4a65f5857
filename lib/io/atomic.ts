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

/**
 * File-system errors that are the place's fault, not attrib's (a read-only or full disk,
 * a path through a file, a name too long): what to tell the person, in one line.
 */
const PLACE_ERRORS: Record<string, string> = {
  EROFS: 'the file system is read-only: choose a writable --runs folder',
  ENOSPC: 'no space left on the device: free some space or choose another --runs folder',
  EDQUOT: 'the disk quota is exceeded: free some space or choose another --runs folder',
  EACCES: 'permission denied: choose a --runs folder you can write to',
  EPERM: 'permission denied: choose a --runs folder you can write to',
  ENOTDIR: 'a part of the path is a file, not a folder: choose another --runs folder',
  ENAMETOOLONG: 'the name is too long for the file system: shorten the experiment name or the --runs path',
};

/** A write that failed because of the place written to; its message is the one line to print. */
export class WriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`cannot write ${shortPath(path)}: ${PLACE_ERRORS[code]}`);
  }
}

/** Long paths (a 5,000-character name) are cut in the middle so the message stays one line. */
function shortPath(path: string): string {
  return path.length <= 160 ? path : `${path.slice(0, 100)}…${path.slice(-50)}`;
}

/** `e` as a WriteError about `path` when the place caused it, else undefined. */
export function placeError(e: unknown, path?: string): WriteError | undefined {
  if (e instanceof WriteError) return e;
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || !(err.code in PLACE_ERRORS)) return undefined;
  return new WriteError(path ?? err.path ?? '(unknown path)', err.code);
}

/**
 * Test seam: ATTRIB_FAULT_WRITE=CODE[:TEXT] makes every atomic write whose target path
 * contains TEXT (every write without it) fail with errno CODE (EROFS, ENOSPC, ...) after
 * its temporary file was opened, as a full or read-only disk would. Lets the tests check
 * messages and cleanup without filling a disk.
 */
function injectedFault(path: string): NodeJS.ErrnoException | undefined {
  const spec = process.env.ATTRIB_FAULT_WRITE;
  if (!spec) return undefined;
  const [code, text = ''] = spec.split(/:(.*)/s);
  if (!code || !path.includes(text)) return undefined;
  return Object.assign(new Error(`${code}: injected by ATTRIB_FAULT_WRITE, write '${path}'`), { code, path });
}

/** Writes `data` to `path` atomically and durably (see the top of this file); a place's fault throws a WriteError. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  try {
    writeAtomically(path, data);
  } catch (e) {
    throw placeError(e, path) ?? e;
  }
}

function writeAtomically(path: string, data: string | Uint8Array): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, 'w');
  try {
    const fault = injectedFault(path);
    if (fault) throw fault;
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
