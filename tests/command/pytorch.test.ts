/**
 * examples/pytorch end to end: PyTorch trains the models (per model, and all LDS models
 * in one run) and computes projected per-example gradients; attrib's trak, lds and
 * report run on the result. Its LDS agrees with the native twin (examples/pytorch/
 * native.yaml: same split, subsets, architecture and recipe) within the bootstrap
 * intervals. Needs /usr/bin/python3 with torch (Debian python3-torch; .ci/run installs it).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readNpy } from '../../lib/io/npy.ts';
import { findExecutor } from '../../pipeline/executors/index.ts';
import { Registry } from '../../pipeline/registry.ts';
import { registerBuiltins } from '../../stages/index.ts';
import { attrib, entry, ROOT, runJson, tmp } from '../engine/helpers.ts';

const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const hasTorch = probe.status === 0;
const why = 'examples/pytorch needs /usr/bin/python3 with torch and numpy (apt-get install -y python3-torch)';
// CI installs torch (.ci/run), so there a missing torch is a failure, not a skip.
const torchTest = hasTorch || process.env.CI ? test.serial : test.serial.skip;
if (!hasTorch) console.warn(`tests/command/pytorch.test.ts: skipped: ${why}`);

const runs = tmp('attrib-pytorch-');

torchTest('the PyTorch example runs end to end: models, features, trak, lds, report', async (t) => {
  t.true(hasTorch, `${why}: ${probe.stderr?.trim().split('\n').pop()}`);
  const r = await attrib(['run', 'examples/pytorch/pytorch.yaml', '--runs', runs], { cwd: ROOT });
  t.is(r.code, 0, r.stderr.slice(-2000));
  const run = runJson(runs, 'pytorch');
  t.is(run.models!.metrics.models, 8);
  t.true((run.models!.metrics.testAccuracy as number) > 0.8, 'the PyTorch MLP learned MNIST');
  t.true(existsSync(join(entry(runs, run.models!.hash), 'units', '0', 'model.pt')));
  t.deepEqual(readNpy(join(entry(runs, run.features!.hash), 'train_7.npy')).shape, [1000, 256]);
  t.is(run.lds_models!.metrics.models, 30);
  t.true((run.lds!.metrics.lds as number) > 0.2, `LDS ${run.lds!.metrics.lds}`);
  t.true(existsSync(join(entry(runs, run.report!.hash), 'index.html')));
  t.log(`pytorch LDS ${run.lds!.metrics.lds} [${run.lds!.metrics.ldsLow}, ${run.lds!.metrics.ldsHigh}]`);
});

torchTest('its LDS agrees with the native pipeline on the same split and recipe', async (t) => {
  t.true(hasTorch, why);
  const r = await attrib(['run', 'examples/pytorch/native.yaml', '--runs', runs], { cwd: ROOT });
  t.is(r.code, 0, r.stderr.slice(-2000));
  const native = runJson(runs, 'pytorch-native');
  const torch = runJson(runs, 'pytorch');
  t.is(native.data!.hash, torch.data!.hash, 'the same split');
  t.is(native.lds_masks!.hash, torch.lds_masks!.hash, 'the same subsets');
  const [a, b] = [native.lds!.metrics, torch.lds!.metrics] as { lds: number; ldsLow: number; ldsHigh: number }[];
  t.log(`native LDS ${a!.lds} [${a!.ldsLow}, ${a!.ldsHigh}], pytorch ${b!.lds} [${b!.ldsLow}, ${b!.ldsHigh}]`);
  t.true(a!.ldsLow <= b!.ldsHigh && b!.ldsLow <= a!.ldsHigh, 'the bootstrap intervals overlap');
});

test('the example\'s SLURM section (a GPU per training and featurizing unit) is one the slurm executor accepts', (t) => {
  const config = parse(readFileSync(join(ROOT, 'examples', 'pytorch', 'pytorch.yaml'), 'utf8')) as { executor: Record<string, unknown> };
  const registry = new Registry();
  registerBuiltins(registry);
  const parsed = findExecutor('slurm', registry)!.options!.safeParse(config.executor);
  t.true(parsed.success, JSON.stringify(parsed.error?.issues));
  const kinds = (parsed.data as { kinds: Record<string, { gres?: string }> }).kinds;
  t.is(kinds['command-models']!.gres, 'gpu:1');
  t.is(kinds['command-features']!.gres, 'gpu:1');
  for (const kind of Object.keys(kinds)) t.truthy(registry.stage(kind), kind);
});
