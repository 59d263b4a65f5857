/**
 * `attrib run CONFIG`: run every stage that is not cached yet (resuming half-finished
 * ones) on the chosen executor; exit 1 when a stage failed.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { executorNames } from '../executors/index.ts';
import { createReporter } from '../progress.ts';
import { summary } from '../record.ts';
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
      .action(async (config: string, o: { set?: string[]; jobs?: number; force?: string[]; runs: string; executor: string; redis?: string }) => {
        const loaded = await tools.load(config, o.set);
        const reporter = createReporter(err, { tty: !!err.isTTY && !process.env.CI, plainEveryMs: Number(process.env.ATTRIB_PROGRESS_MS ?? 5000) });
        let ran;
        try {
          ran = await runExperiments(loaded, {
            registry,
            runsDir: o.runs,
            executor: o.executor,
            jobs: o.jobs,
            force: o.force,
            redis: o.redis,
            workerEntry: tools.workerEntry,
            onEvent: (e) => reporter.event(e),
          });
        } finally {
          reporter.close();
        }
        if (!ran.ok) throw new UsageError(ran.errors);
        tools.print();
        tools.print(summary(ran.value.plans, ran.value.results));
        tools.setExitCode(ran.value.ok ? EXIT.ok : EXIT.failed);
      });
  },
};
