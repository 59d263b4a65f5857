/**
 * `attrib run CONFIG [STAGE...]`: run every stage that is not cached yet (resuming
 * half-finished ones) on the chosen executor, or only what the named stages need
 * (`--until` leaves out what is downstream of a stage); `--dry-run` prints what would
 * run and runs nothing. Exit 1 when a stage failed.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Store } from '../store.ts';
import type { LoadedConfig } from '../config.ts';
import { planRun } from '../run.ts';
import { comparedWith, plannedStages, plannedTable } from './plan.ts';
import { executorNames } from '../executors/index.ts';
import { createReporter } from '../progress.ts';
import { formatPoints, pointRows, summary } from '../record.ts';
import { runExperiments } from '../run.ts';
import { collect, EXIT, UsageError, type CommandExtension, type CommandTools } from './types.ts';

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

export const runCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { registry } = tools;
    const err = tools.stderr;
    tools
      .sweepOptions(program.command('run'))
      .description('run every stage that is not cached yet (resuming half-finished ones)')
      .argument('<config>', 'experiment YAML')
      .argument('[stages...]', 'run only these stages and what they need (as dvc repro TARGET)')
      .addOption(tools.setOption())
      .option('--until <stage>', 'leave out every stage downstream of this one (repeatable)', collect)
      .option('--dry-run', 'print what would run (and why), run nothing')
      .addOption(new Option('--format <format>', 'the final output: text (stage tables, and a line per sweep point), or only the points table as csv or json').choices(['text', 'csv', 'json']).default('text'))
      .option('--jobs <n>', 'tasks at once: worker threads, and units in flight (default: number of cores)', positiveInt('--jobs'))
      .option('--force <stage>', 're-run this stage and everything downstream even if cached (repeatable)', collect)
      .addOption(tools.runsOption())
      .option('--executor <name>', `where tasks run: ${executorNames(registry).join(', ')} (docs/scale-out.md)`, 'local')
      .option('--redis <url>', 'the bullmq executor\'s Redis (default: $ATTRIB_REDIS_URL)')
      .action(async (config: string, stages: string[], o: { set?: string[]; sweep?: string[]; zip?: boolean; until?: string[]; dryRun?: boolean; format: 'text' | 'csv' | 'json'; jobs?: number; force?: string[]; runs: string; executor: string; redis?: string }) => {
        const loaded = await tools.load(config, o.set, o);
        if (o.dryRun) {
          dryRun(tools, loaded, { targets: stages, until: o.until, force: o.force, runs: o.runs });
          return;
        }
        const reporter = createReporter(err, { tty: !!err.isTTY && !process.env.CI, plainEveryMs: Number(process.env.ATTRIB_PROGRESS_MS ?? 5000) });
        let ran;
        try {
          ran = await runExperiments(loaded, {
            registry,
            runsDir: o.runs,
            executor: o.executor,
            jobs: o.jobs,
            force: o.force,
            targets: stages,
            until: o.until,
            redis: o.redis,
            workerEntry: tools.workerEntry,
            onEvent: (e) => reporter.event(e),
          });
        } finally {
          reporter.close();
        }
        if (!ran.ok) throw new UsageError(ran.errors);
        const { plans, results } = ran.value;
        if (o.format !== 'text') {
          tools.print(formatPoints(pointRows(plans, results), o.format));
        } else {
          tools.print();
          tools.print(summary(plans, results));
          if (plans.length > 1) {
            tools.print();
            tools.print(`${plans.length} sweep points`);
            tools.print(formatPoints(pointRows(plans, results), 'text'));
          }
        }
        tools.setExitCode(ran.value.ok ? EXIT.ok : EXIT.failed);
      });
  },
};

/** `--dry-run`: the selected stages of every experiment with their state and why each would run; runs and writes nothing. */
function dryRun(tools: CommandTools, loaded: LoadedConfig, o: { targets: string[]; until?: string[]; force?: string[]; runs: string }): void {
  const plans = planRun(loaded, o);
  if (!plans.ok) throw new UsageError(plans.errors);
  const store = new Store(resolve(o.runs));
  let toRun = 0;
  for (const plan of plans.value) {
    // --force re-runs a stage and everything downstream of it, cached or not.
    const forced = new Set<string>();
    for (const inst of plan.instances) if (o.force?.includes(inst.name) || Object.values(inst.upstream).some((u) => forced.has(u))) forced.add(inst.name);
    const planned = plannedStages(store, plan, comparedWith(store, plan.experiment.name)?.stages).map((s) => (forced.has(s.stage) ? { ...s, why: 'forced' } : s));
    toRun += planned.filter((s) => forced.has(s.stage) || s.state !== 'cached').length;
    tools.print(plan.experiment.name);
    tools.print(plannedTable(planned));
    tools.print();
  }
  tools.print(`dry run: ${toRun} stage instance(s) would run; nothing was run`);
}
