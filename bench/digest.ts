/**
 * What verifying the store costs: sha256 throughput of lib/io/digest.ts fileDigest
 * (the function that hashes every artifact when a manifest is written, when an entry is
 * checked before it is served or read as an input, and in `attrib verify`), on a
 * temporary file of SIZE_MIB, hashed RUNS times afresh (no per-process memo). Prints
 * the median MiB/s and the load average: on a shared machine, say so beside the figure.
 *
 *     npx tsx bench/digest.ts [SIZE_MIB]
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDigest } from '../lib/io/digest.ts';

const SIZE_MIB = Number(process.argv[2] ?? 64);
const RUNS = 5;

const dir = mkdtempSync(join(tmpdir(), 'attrib-digest-bench-'));
try {
  const file = join(dir, 'artifact.bin');
  writeFileSync(file, randomFillSync(Buffer.allocUnsafe(SIZE_MIB << 20)));
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fileDigest(file, { fresh: true });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(SIZE_MIB / seconds);
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(RUNS / 2)]!;
  console.log(`sha256 of a ${SIZE_MIB} MiB file (page cache warm), ${RUNS} runs: median ${median.toFixed(0)} MiB/s (min ${rates[0]!.toFixed(0)}, max ${rates.at(-1)!.toFixed(0)})`);
  console.log(`cpu: ${cpus()[0]?.model} × ${cpus().length}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; node ${process.version}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
