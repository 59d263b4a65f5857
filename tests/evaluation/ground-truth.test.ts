// The LDS ground truth read from a models entry: margins by default, −loss for dattri's
// target (train writes losses_test.npy), averaged over the seeds of each mask.
import test from 'ava';
import { join } from 'node:path';
import { MASKS, MODELS } from '../../lib/artifacts.ts';
import { readGroundTruth } from '../../lib/evaluation/ground-truth.ts';
import { writeNpy } from '../../lib/io/npy.ts';
import { tempDir } from '../helpers/run-stage.ts';

/** 2 masks over 3 train examples; 4 models (2 seeds per mask); 2 test examples. */
function entries(withLosses: boolean): { models: string; masks: string } {
  const masks = tempDir('attrib-gt-masks-');
  const models = tempDir('attrib-gt-models-');
  writeNpy(join(masks, MASKS.masks), Uint8Array.from([1, 0, 1, 0, 1, 1]), [2, 3]);
  writeNpy(join(models, MODELS.maskOf), Int32Array.from([0, 0, 1, 1]), [4]);
  writeNpy(join(models, MODELS.marginsTest), Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [4, 2]);
  if (withLosses) writeNpy(join(models, MODELS.lossesTest), Float32Array.from([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]), [4, 2]);
  return { models, masks };
}

test('target margin: the margins averaged over each mask\'s seeds', (t) => {
  const { models, masks } = entries(true);
  const gt = readGroundTruth(models, masks, 'lds');
  // target 1 (test example 1): mask 0 → (2 + 4)/2, mask 1 → (6 + 8)/2
  t.deepEqual([...gt.truthFor(Int32Array.from([1]))], [3, 7]);
  t.is(gt.seedsPerSubset, 2);
});

test('target loss: the negative losses, averaged the same way', (t) => {
  const { models, masks } = entries(true);
  const gt = readGroundTruth(models, masks, 'lds', 'loss');
  // target 0: mask 0 → −(0.5 + 1.5)/2, mask 1 → −(2.5 + 3.5)/2
  t.deepEqual([...gt.truthFor(Int32Array.from([0]))], [-1, -3]);
});

test('target loss without losses_test.npy says what to re-run', (t) => {
  const { models, masks } = entries(false);
  t.throws(() => readGroundTruth(models, masks, 'lds', 'loss'), { message: /lds: target: loss needs losses_test\.npy .* re-run that train stage/ });
});
