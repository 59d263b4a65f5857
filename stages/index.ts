/**
 * The registry list: every built-in stage kind, one line each. A new kind is one new
 * file in stages/ plus one line here.
 */
import type { Registry, StageKind } from '../pipeline/registry.ts';
import { gradcos } from './baselines/gradcos.ts';
import { graddot } from './baselines/graddot.ts';
import { influence } from './baselines/influence.ts';
import { datamodels } from './datamodels.ts';
import { lds } from './lds.ts';
import { trak } from './trak.ts';

export const builtinKinds: StageKind[] = [
  lds,
  datamodels,
  trak,
  graddot,
  gradcos,
  influence,
];

export function registerBuiltins(registry: Registry): void {
  for (const kind of builtinKinds) registry.registerStage(kind);
}
