/**
 * `attrib run CONFIG [STAGE...]`: run every stage that is not cached yet (resuming
 * half-finished ones) on the chosen executor, or only what the named stages need
 * (`--until` leaves out what is downstream of a stage); `--dry-run` prints what would
 * run and runs nothing. Exit 1 when a stage failed.
 *
 * A bad runs folder (a file, /proc, read-only, full) is found before anything runs:
 * exit 2, as is one that fails before any stage began (run.json, an experiment name too
 * long for a folder name). A write that fails mid-run because of the disk says so in one
 * line: exit 1 (a stage's own write fails that stage, with the same line).
 * SIGINT / SIGTERM stop the run at once (exit 130 / 143): what finished is already on
 * disk (units and entries are renamed into place whole) and a re-run resumes from it.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { LoadedConfig } from '../config.ts';
import { executorNames } from '../executors/index.ts';
import { createReporter, fitTable, interruptedMessage, PLAIN_COLUMNS, resultsSummary } from '../progress.ts';
import { formatPoints, pointRows, summary } from '../record.ts';
import { planRun, runExperiments } from '../run.ts';
import { Store } from '../store.ts';
import { comparedWith, plannedStages, plannedTable } from './plan.ts';
import { placeError } from '../../lib/io/atomic.ts';
import { runsFolderProblem } from './runs-folder.ts';
import { collect, EXIT, UsageError, type CommandExtension, type CommandTools } from './types.ts';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

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
      .option('-q, --quiet', 'no progress: print only warnings, failures and where the results are')
      .action(async (config: string, stages: string[], o: { set?: string[]; sweep?: string[]; zip?: boolean; until?: string[]; dryRun?: boolean; format: 'text' | 'csv' | 'json'; jobs?: number; force?: string[]; runs: string; executor: string; redis?: string; quiet?: boolean }) => {
        const loaded = await tools.load(config, o.set, o);
        const problem = runsFolderProblem(o.runs, { write: !o.dryRun });
        if (problem) tools.fail(problem);
        if (o.dryRun) {
          dryRun(tools, loaded, { targets: stages, until: o.until, force: o.force, runs: o.runs });
          return;
        }
        const reporter = createReporter(err, { tty: !!err.isTTY && !process.env.CI, plainEveryMs: Number(process.env.ATTRIB_PROGRESS_MS ?? 5000), quiet: o.quiet });
        // Ctrl-C or SIGTERM: say what is kept and how to resume, then stop (finished units are already in the store).
        const stop = (signal: NodeJS.Signals) => {
          reporter.close();
          err.write(`\n${interruptedMessage(signal, o.runs, ['attrib', ...process.argv.slice(2)].join(' '))}\n`);
          // Worker threads end with the process; entry locks are released on exit.
          process.exit(SIGNAL_EXIT[signal]);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        let ran;
        let started = false;
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
            quiet: o.quiet,
            onEvent: (e) => {
              started = true;
              reporter.event(e);
            },
          });
        } catch (e) {
          const place = placeError(e);
          if (!place) throw e;
          reporter.close();
          // Before any stage began (run.json, a too-long experiment name) it is the place: exit 2.
          if (!started) tools.fail(`attrib: ${place.message}`);
          tools.warn(`attrib: ${place.message}; finished units and stages are kept, a re-run resumes`);
          tools.setExitCode(EXIT.failed);
          return;
        } finally {
          reporter.close();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        if (!ran.ok) throw new UsageError(ran.errors);
        const { plans, results } = ran.value;
        // csv / json: only the points table, for a script to read.
        if (o.format !== 'text') {
          tools.print(formatPoints(pointRows(plans, results), o.format));
          tools.setExitCode(ran.value.ok ? EXIT.ok : EXIT.failed);
          return;
        }
        const width = Math.min(120, process.stdout.columns || PLAIN_COLUMNS);
        if (!o.quiet) {
          tools.print();
          tools.print(fitTable(summary(plans, results), width));
          if (plans.length > 1) {
            tools.print();
            tools.print(`${plans.length} sweep points`);
            tools.print(fitTable(formatPoints(pointRows(plans, results), 'text'), width));
          }
        }
        tools.print();
        tools.print(resultsSummary(plans, results, new Store(resolve(o.runs)), process.cwd(), width));
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
