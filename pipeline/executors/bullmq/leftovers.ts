/**
 * A worker killed in the middle of a unit (SIGKILL, a node lost, a SLURM time limit)
 * leaves its private staging folder (`.staging-unit-<i>-<pid>-<random>`) in the entry.
 * Once unit i is committed nobody needs those any more; the coordinator removes them.
 * (A late duplicate of the unit still writing there only loses its copy: the unit it
 * would have committed is already in place, and commitUnit keeps the first one.)
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StageHash } from '../../registry.ts';
import type { Store } from '../../store.ts';

export function removeUnitLeftovers(store: Store, hash: StageHash, index: number): void {
  const prefix = `.staging-unit-${index}-`;
  let names: string[];
  try {
    names = readdirSync(store.entry(hash));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    try {
      rmSync(join(store.entry(hash), name), { recursive: true, force: true });
    } catch {
      // Someone is still writing into it; the next run's cleanup takes it.
    }
  }
}

/** Reads a unit's outcome, retrying for `settleMs` (a shared filesystem may show it late). */
export async function awaitUnit(store: Store, hash: StageHash, index: number, settleMs: number): Promise<ReturnType<Store['readUnit']>> {
  const until = Date.now() + settleMs;
  for (;;) {
    const outcome = store.readUnit(hash, index);
    if (outcome || Date.now() >= until) return outcome;
    await new Promise((r) => setTimeout(r, 250));
  }
}
