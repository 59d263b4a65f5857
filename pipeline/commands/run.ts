/**
 * `attrib run CONFIG`: run every stage that is not cached yet (resuming half-finished
 * ones) on the chosen executor; exit 1 when a stage failed.
 *
 * A bad runs folder (a file, /proc, read-only, full) is found before anything runs:
 * exit 2, as is one that fails before any stage began (run.json, an experiment name too
 * long for a folder name). A write that fails mid-run because of the disk says so in one
 * line: exit 1 (a stage's own write fails that stage, with the same line).
 * SIGINT / SIGTERM stop the run at once (exit 130 / 143): what finished is already on
 * disk (units and entries are renamed into place whole) and a re-run resumes from it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { executorNames } from '../executors/index.ts';
import { resolve } from 'node:path';
import { createReporter, fitTable, interruptedMessage, PLAIN_COLUMNS, resultsSummary } from '../progress.ts';
import { summary } from '../record.ts';
import { runExperiments } from '../run.ts';
import { Store } from '../store.ts';
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
    program
      .command('run')
      .description('run every stage that is not cached yet (resuming half-finished ones)')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .option('--jobs <n>', 'tasks at once: worker threads, and units in flight (default: number of cores)', positiveInt('--jobs'))
      .option('--force <stage>', 're-run this stage and everything downstream even if cached (repeatable)', collect)
      .addOption(tools.runsOption())
      .option('--executor <name>', `where tasks run: ${executorNames(registry).join(', ')} (docs/scale-out.md)`, 'local')
      .option('--redis <url>', 'the bullmq executor\'s Redis (default: $ATTRIB_REDIS_URL)')
      .option('-q, --quiet', 'no progress: print only warnings, failures and where the results are')
      .action(async (config: string, o: { set?: string[]; jobs?: number; force?: string[]; runs: string; executor: string; redis?: string; quiet?: boolean }) => {
        const loaded = await tools.load(config, o.set);
        const problem = runsFolderProblem(o.runs, { write: true });
        if (problem) tools.fail(problem);
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
            redis: o.redis,
            workerEntry: tools.workerEntry,
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
        const width = Math.min(120, process.stdout.columns || PLAIN_COLUMNS);
        if (!o.quiet) {
          tools.print();
          tools.print(fitTable(summary(ran.value.plans, ran.value.results), width));
        }
        tools.print();
        tools.print(resultsSummary(ran.value.plans, ran.value.results, new Store(resolve(o.runs)), process.cwd(), width));
        tools.setExitCode(ran.value.ok ? EXIT.ok : EXIT.failed);
      });
  },
};
