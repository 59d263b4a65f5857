/**
 * What README and `--help` say about configs holds: the did-you-mean hint it shows for a
 * misspelt key inside params, and its `--set` examples name stages that exist and change
 * the TRAK models and the ground truth alike (an LDS compares models trained the same way).
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../pipeline/config.ts';
import { attrib, builtinRegistry, read, ROOT, tmp } from './helpers.ts';

const QUICKSTART = join(ROOT, 'configs', 'quickstart.yaml');

test('a misspelt key inside params gets the hint README shows, and only that line', async (t) => {
  const readme = read(join(ROOT, 'README.md'));
  t.true(readme.includes('stages.models.params.fit.epocs: unknown key "epocs"; did you mean "epochs"?'));
  const config = join(tmp(), 'x.yaml');
  writeFileSync(config, readFileSync(QUICKSTART, 'utf8').replace('epochs: 8', 'epocs: 8'));
  const r = await attrib(['validate', config]);
  t.is(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  t.true(lines.length > 0 && lines.every((l) => l.includes('unknown key "epocs"; did you mean "epochs"?')), r.stderr);
  t.regex(r.stderr, /:\d+ stages\.models\.params\.fit\.epocs: unknown key "epocs"; did you mean "epochs"\?/);
});

/** The `--set` values README and `--help` give for the quickstart. */
function setExamples(): string[] {
  // A line that says `would change only` shows a counter-example on purpose.
  const lines = [read(join(ROOT, 'README.md')), read(join(ROOT, 'pipeline', 'cli.ts'))].flatMap((text) => text.split('\n')).filter((l) => !l.includes('would change only'));
  const found = lines.flatMap((line) => [...line.matchAll(/(?:--set |set: \['|e\.g\. )((?:defaults|stages)\.[\w.]+=\w+)/g)].map((m) => m[1]!));
  return [...new Set(found)];
}

test('README and --help --set examples name what exists and change the models and the ground truth alike', async (t) => {
  const examples = setExamples();
  t.true(examples.length > 0);
  for (const set of examples) {
    const loaded = await loadConfig(QUICKSTART, { registry: builtinRegistry(), set: [set] });
    if (!loaded.ok) {
      t.fail(`${set}: ${loaded.errors.map((e) => e.message).join('; ')}`);
      continue;
    }
    const stages = new Map(loaded.value.experiments[0]!.stages.map((s) => [s.name, s.params as { fit?: unknown }]));
    const [path] = set.split('=');
    if (path!.includes('.fit.')) {
      // The one deliberate counter-example README shows is worded as such (`would change only`).
      t.deepEqual(stages.get('models')!.fit, stages.get('lds_models')!.fit, `${set} changes both train stages`);
    }
  }
});
