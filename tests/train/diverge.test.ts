/**
 * Runaway training fails its unit like NaN does: a learning rate of 1e6 blows the loss up
 * by orders of magnitude while staying finite, and must not be stored as a normal model.
 */
import test from 'ava';
import type { Artifact } from '../../pipeline/registry.ts';
import { initBackend } from '../../lib/backend.ts';
import { dataset } from '../../stages/dataset.ts';
import { subsets } from '../../stages/subsets.ts';
import { train } from '../../stages/train.ts';
import { runStage } from '../helpers/run-stage.ts';

let data: Artifact;
let masks: Artifact;
test.before(async () => {
  await initBackend(process.env.ATTRIB_TEST_BACKEND ?? 'wasm');
  data = await runStage(dataset, { params: { source: { kind: 'synthetic', dim: 5, classes: 3, n: 260, separation: 3 }, train: 200, test: 60 } });
  masks = await runStage(subsets, { params: { count: 1, alpha: 0.5 }, inputs: { data } });
});

const recipe = (lr: number) => ({
  model: { kind: 'mlp', hidden: [16] },
  fit: { epochs: 3, batchSize: 32, optimizer: { kind: 'adam', lr } },
});

test('a runaway loss (finite, far above the starting loss) fails the unit with the divergence message', async (t) => {
  const error = await t.throwsAsync(runStage(train, { params: recipe(1e6), inputs: { data, masks } }));
  t.regex(error!.message, /^training diverged: loss .+ at epoch \d+, step \d+ \(lr 1\.00e\+6\): lower the learning rate$/);
  t.regex(error!.message, /starting loss/);
});

test('a sane learning rate trains without tripping the check', async (t) => {
  const a = await runStage(train, { params: recipe(0.1), inputs: { data, masks } });
  t.is(a.metrics.models, 1);
});
