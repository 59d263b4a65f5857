/**
 * The registry list: every built-in stage kind, one line each, and the built-in data
 * sources and model kinds. A new kind is one new file in stages/ plus one line here.
 */
import { PREFLIGHTS, type Registry, type StageKind } from '../pipeline/registry.ts';
import { gradcos } from './gradcos.ts';
import { graddot } from './graddot.ts';
import { influence } from './influence.ts';
import { tracin } from './tracin.ts';
import { builtinSources } from '../lib/data/index.ts';
import { dataset } from './dataset.ts';
import { datamodels } from './datamodels.ts';
import { lds } from './lds.ts';
import { select } from './select.ts';
import { knobmodel } from './knobmodel.ts';
import { knobPredict } from './knob-predict.ts';
import { report } from './report.ts';
import { linearize } from './linearize.ts';
import { builtinModelKinds } from '../lib/models/index.ts';
import { subsets } from './subsets.ts';
import { train } from './train.ts';
import { backendPreflight } from '../lib/backend.ts';
import { trak } from './trak.ts';
import { commandKinds } from './command.ts';
import { importKinds } from './import.ts';
import { DATA_SOURCES, MODEL_KINDS } from './extensions.ts';

export const builtinKinds: StageKind[] = [
  dataset,
  subsets,
  train,
  lds,
  select,
  datamodels,
  linearize,
  trak,
  graddot,
  gradcos,
  influence,
  tracin,
  knobmodel,
  knobPredict,
  report,
  ...importKinds, // import-masks, import-margins, import-features, import-scores: .npy files with sha256 pins
  ...commandKinds, // command-models, command-features, command-scores: outside programs, checked against the contract
];

export function registerBuiltins(registry: Registry): void {
  for (const kind of builtinKinds) registry.registerStage(kind);
  for (const source of builtinSources) registry.register(DATA_SOURCES, source.name, source);
  for (const model of builtinModelKinds) registry.register(MODEL_KINDS, model.name, model);
  registry.register(PREFLIGHTS, 'backend', backendPreflight); // the requested tensor backend loads, before any worker starts
}
