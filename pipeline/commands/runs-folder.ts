/**
 * The runs folder, checked before a command touches it, so that a bad `--runs` is one
 * line and exit 2 instead of a stack trace, a spin or files in the wrong place:
 *   ''                       refused (resolve('') would be the current folder)
 *   a path through a file    ENOTDIR, named
 *   /proc, /sys, ...         kernel file systems refused (Node's recursive mkdir spins
 *                            forever under /proc/<pid>)
 *   read-only, full, denied  found by creating the folder part by part and writing a probe
 *                            file through the same atomic writer the store uses
 */
import { existsSync, mkdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { placeError, writeFileAtomic } from '../../lib/io/atomic.ts';

/** statfs magic numbers of kernel file systems that are no place for a store. */
const KERNEL_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
]);

const PROBE = '.attrib-write-check';

/** What is wrong with `dir` as a runs folder, as one line, or undefined. With `write`, creates it and checks a write. */
export function runsFolderProblem(dir: string, opts: { write: boolean }): string | undefined {
  if (dir.trim() === '') return '--runs is empty: name a folder for runs and the store (the default is ./runs)';
  const abs = resolve(dir);
  // The folders on the way that exist must be folders; the first missing one and below get created.
  const chain: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    chain.unshift(p);
    if (p === dirname(p)) break;
  }
  let deepestExisting = chain[0]!;
  for (const p of chain) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      break;
    }
    if (!isDir) return `--runs ${dir}: ${p} is a file, not a folder: choose another --runs folder`;
    deepestExisting = p;
  }
  const fsType = KERNEL_FILE_SYSTEMS.get(Number(statfsSync(deepestExisting).type));
  if (fsType) return `--runs ${dir}: ${deepestExisting} is on the kernel's ${fsType} file system, not a disk: choose another --runs folder`;
  if (!opts.write) return undefined;
  try {
    for (const p of chain) if (!existsSync(p)) mkdirSync(p);
    writeFileAtomic(join(abs, PROBE), '');
    rmSync(join(abs, PROBE), { force: true });
  } catch (e) {
    const place = placeError(e);
    if (!place) throw e;
    return `--runs ${dir}: ${place.message}`;
  }
  return undefined;
}
