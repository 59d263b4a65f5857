/**
 * Every config the docs show is a file in docs/examples/ (the guides include them as
 * snippets, refreshed by scripts/gen-docs.ts), and every one runs here through the real
 * CLI, shrunk to a few seconds with --set (fewer models, examples and epochs; the
 * config's structure, sources, plugins and sweeps as written). The scale-out example,
 * meant for a cluster, is validated instead, its executor options by each executor.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { findExecutor } from '../../pipeline/executors/index.ts';
import { attrib, builtinRegistry, readYaml, ROOT, tmp, yamlFiles } from './helpers.ts';

const EXAMPLES = yamlFiles('docs/examples');
const VALIDATE_ONLY = new Set(['scale-out.yaml']);

type Stage = { kind: string; params?: Record<string, unknown> };

/** --set overrides that keep a config's shape and shrink its work to seconds. */
export function shrink(config: { stages: Record<string, Stage> }): string[] {
  const set: string[] = [];
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  for (const [name, stage] of Object.entries(config.stages)) {
    const p = (stage.params ?? {}) as Record<string, any>;
    const at = `stages.${name}.params`;
    switch (stage.kind) {
      case 'dataset':
        if ((num(p.train) ?? 0) > 100) set.push(`${at}.train=100`);
        if ((num(p.test) ?? 0) > 30) set.push(`${at}.test=30`);
        break;
      case 'subsets':
        if ((num(p.count) ?? 0) > 6) set.push(`${at}.count=6`);
        break;
      case 'train':
        if ((num(p.fit?.epochs) ?? 0) > 2) set.push(`${at}.fit.epochs=2`);
        if ((num(p.seeds) ?? 1) > 1) set.push(`${at}.seeds=1`);
        break;
      case 'linearize':
      case 'tracin':
      case 'datamodels':
        if (p.targets && (num(p.targets.count) ?? Infinity) > 10) set.push(`${at}.targets.count=10`);
        if ((num(p.projector?.dim) ?? 0) > 32) set.push(`${at}.projector.dim=32`);
        break;
    }
  }
  return set.flatMap((s) => ['--set', s]);
}

test('the docs have examples, and every one is shown in a guide', (t) => {
  t.true(EXAMPLES.length >= 6);
  const guides = readFileSync(join(ROOT, 'docs', 'README.md'), 'utf8') + ['configs', 'guide-own-data', 'guide-compare', 'guide-plugins', 'guide-scale-out'].map((g) => readFileSync(join(ROOT, 'docs', `${g}.md`), 'utf8')).join('\n');
  for (const file of EXAMPLES) t.true(guides.includes(`<!-- snippet: ${relative(join(ROOT, 'docs'), file)} -->`), relative(ROOT, file));
});

for (const file of EXAMPLES) {
  const name = basename(file);
  if (VALIDATE_ONLY.has(name)) {
    test(`docs/examples/${name} validates, and each executor accepts its options`, async (t) => {
      const r = await attrib(['validate', file]);
      t.is(r.code, 0, r.stderr);
      const executor = (readYaml(readFileSync(file, 'utf8')) as { executor: Record<string, unknown> }).executor;
      for (const section of Object.keys(executor)) {
        const factory = findExecutor(section, builtinRegistry());
        t.truthy(factory?.options, section);
        const parsed = factory!.options!.safeParse(executor);
        t.true(parsed.success, `${section}: ${JSON.stringify(parsed.error?.issues)}`);
      }
    });
    continue;
  }
  test.serial(`docs/examples/${name} runs as written (shrunk with --set)`, async (t) => {
    const config = readYaml(readFileSync(file, 'utf8')) as { name: string; stages: Record<string, Stage> };
    const dir = tmp();
    const r = await attrib(['run', file, '--runs', join(dir, 'runs'), '--jobs', '2', ...shrink(config)]);
    t.is(r.code, 0, r.stdout + r.stderr);
    const lds = Object.entries(config.stages).filter(([, s]) => s.kind === 'lds');
    t.true(lds.length > 0, 'every example ends in an LDS');
    for (const [stage] of lds) t.regex(r.stdout, new RegExp(`^${stage}\\s+ran\\s+[\\d.]+\\s+lds=-?[\\d.]+`, 'm'), stage);
  });
}
