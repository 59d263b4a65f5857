/**
 * select: a planted best candidate (the exact linear datamodel among a noisy and a random
 * one) is chosen on a held-out ground truth and passed on unchanged; each candidate's
 * held-out LDS is what lds computes on that ground truth; ties go to the first; the
 * held-out contract (no subset shared with the evaluation ground truth) is enforced by
 * select (evaluation input) and by lds downstream of a select.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../pipeline/registry.ts';
import { listInputName } from '../../pipeline/registry.ts';
import { SCORES } from '../../lib/artifacts.ts';
import { Rng } from '../../lib/random/rng.ts';
import { lds } from '../../stages/lds.ts';
import { select, SELECT_FILE, type SelectRecord } from '../../stages/select.ts';
import { runStage } from '../helpers/run-stage.ts';
import { dataset, masksArtifact, modelsArtifact, randomMasks, scoresArtifact } from './fakes.ts';

const nTrain = 50;
const nTest = 8;

/** f(x_j; S) = b_j + Σ_{i∈S} w_ji: a ground truth trained on `masks` (one model per mask). */
function world() {
  const rng = Rng.from('select-test');
  const data = dataset();
  const w = rng.fillNormal(new Float32Array(nTest * nTrain));
  const b = rng.fillNormal(new Float32Array(nTest));
  const groundTruth = (masks: Uint8Array, count: number): Artifact => {
    const margins = new Float32Array(count * nTest);
    for (let k = 0; k < count; k++)
      for (let j = 0; j < nTest; j++) {
        let f = b[j];
        for (let i = 0; i < nTrain; i++) if (masks[k * nTrain + i]) f += w[j * nTrain + i];
        margins[k * nTest + j] = f;
      }
    return modelsArtifact(data, masksArtifact(data, masks, count, nTrain), margins, Int32Array.from({ length: count }, (_, k) => k), nTest, 1);
  };
  const targets = Int32Array.from({ length: nTest }, (_, j) => j);
  const scores = (tau: Float32Array) => scoresArtifact(data, tau, targets, nTrain);
  const noisy = (scale: number) => Float32Array.from(w, (v) => v + scale * rng.normal());
  const heldOutMasks = randomMasks(30, nTrain, 0.5, Rng.from('held-out'));
  const evaluationMasks = randomMasks(30, nTrain, 0.5, Rng.from('evaluation'));
  return { data, w, rng, groundTruth, scores, noisy, heldOutMasks, evaluationMasks };
}

const candidates = (list: Artifact[]) => Object.fromEntries(list.map((a, i) => [listInputName('candidates', i), a]));

test('select chooses the planted best candidate by held-out LDS and passes its scores on unchanged', async (t) => {
  const wd = world();
  const heldOut = wd.groundTruth(wd.heldOutMasks, 30);
  const list = [wd.scores(wd.noisy(3)), wd.scores(Float32Array.from(wd.w)), wd.scores(wd.rng.fillNormal(new Float32Array(nTest * nTrain)))];
  const out = await runStage(select, { inputs: { ...candidates(list), models: heldOut }, params: { bootstrap: 100 } });
  t.is(out.metrics.chosen, 1);
  t.is(out.metrics.candidates, 3);
  t.true(Math.abs((out.metrics.heldOutLds as number) - 1) < 1e-12);
  // Each candidate's held-out LDS is exactly lds's on the held-out ground truth.
  for (const [i, c] of list.entries()) {
    const direct = await runStage(lds, { inputs: { scores: c, models: heldOut }, params: { bootstrap: 0 } });
    t.is(out.metrics[`candidate${i}Lds`], direct.metrics.lds, `candidate ${i}`);
  }
  t.is(out.metrics.runnerUp, 0);
  t.true((out.metrics.runnerUpGapLow as number) > 0, 'the exact datamodel beats the noisy one on every resample here');
  for (const file of [SCORES.scores, SCORES.targetIndex]) t.deepEqual(readFileSync(join(out.dir, file)), readFileSync(join(list[1]!.dir, file)), file);
  const record = JSON.parse(readFileSync(join(out.dir, SELECT_FILE), 'utf8')) as SelectRecord;
  t.is(record.chosen, 1);
  t.is(record.chosenHash, list[1]!.hash);
  t.is(record.heldOutGroundTruth, heldOut.hash);
  t.deepEqual(record.candidates.map((c) => c.hash), list.map((c) => c.hash));
});

test('ties go to the first candidate in the list', async (t) => {
  const wd = world();
  const exact = () => wd.scores(Float32Array.from(wd.w));
  const out = await runStage(select, { inputs: { ...candidates([wd.scores(wd.noisy(3)), exact(), exact()]), models: wd.groundTruth(wd.heldOutMasks, 30) } });
  t.is(out.metrics.chosen, 1);
  t.is(out.metrics.runnerUp, 2);
  t.is(out.metrics.runnerUpGap, 0);
});

test('held-out contract: select refuses an evaluation ground truth that shares subsets with the held-out one', async (t) => {
  const wd = world();
  const heldOut = wd.groundTruth(wd.heldOutMasks, 30);
  const list = candidates([wd.scores(Float32Array.from(wd.w))]);
  const same = await t.throwsAsync(runStage(select, { inputs: { ...list, models: heldOut, evaluation: heldOut } }));
  t.regex(same!.message, /^select: the held-out ground truth and the evaluation ground truth are trained on the same subsets stage \([0-9a-z-]+\): a choice made on them is not held out; draw the held-out subsets with another mask seed/);
  const overlapping = Uint8Array.from(wd.evaluationMasks);
  overlapping.set(wd.heldOutMasks.subarray(7 * nTrain, 8 * nTrain), 3 * nTrain); // evaluation subset 3 = held-out subset 7
  const dir = join(heldOut.dir, 'never-select');
  const shared = await t.throwsAsync(runStage(select, { inputs: { ...list, models: heldOut, evaluation: wd.groundTruth(overlapping, 30) }, dir }));
  t.regex(shared!.message, /^select: 1 of the 30 held-out subsets are also evaluation subsets \(the same masks\)/);
  t.false(existsSync(join(dir, SELECT_FILE)));
  const ok = await runStage(select, { inputs: { ...list, models: heldOut, evaluation: wd.groundTruth(wd.evaluationMasks, 30) } });
  t.is(ok.metrics.chosen, 0);
});

test('held-out contract: lds refuses to report a selection on the ground truth it was chosen on', async (t) => {
  const wd = world();
  const heldOut = wd.groundTruth(wd.heldOutMasks, 30);
  const chosen = await runStage(select, { inputs: { ...candidates([wd.scores(wd.noisy(3)), wd.scores(Float32Array.from(wd.w))]), models: heldOut } });
  const err = await t.throwsAsync(runStage(lds, { inputs: { scores: chosen, models: heldOut } }));
  t.regex(err!.message, /^lds \(scores chosen by select [0-9a-z-]+\): the held-out ground truth and the evaluation ground truth are trained on the same subsets stage/);
  const reported = await runStage(lds, { inputs: { scores: chosen, models: wd.groundTruth(wd.evaluationMasks, 30) }, params: { bootstrap: 0 } });
  t.true(Math.abs((reported.metrics.lds as number) - 1) < 1e-12);
});

test('a candidate with constant scores for every target cannot be ranked', async (t) => {
  const wd = world();
  const out = runStage(select, { inputs: { ...candidates([wd.scores(Float32Array.from(wd.w)), wd.scores(new Float32Array(nTest * nTrain))]), models: wd.groundTruth(wd.heldOutMasks, 30) } });
  await t.throwsAsync(out, { message: 'select: candidates[1] has an undefined rank correlation for every target (constant scores?): it cannot be ranked' });
});
