/**
 * `attrib run CONFIG`: run every stage that is not cached yet (resuming half-finished
 * ones) on the chosen executor; exit 1 when a stage failed.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { execute } from '../execute.ts';
import { ExecutorSetupError, inFlight, type ExecutorEnv } from '../executor.ts';
import { executorNames, findExecutor } from '../executors/index.ts';
import { planExperiment } from '../plan.ts';
import { createReporter } from '../progress.ts';
import { summary } from '../record.ts';
import { PREFLIGHTS } from '../registry.ts';
import { Store } from '../store.ts';
import { errorAt, issuesToErrors } from '../validate.ts';
import { ATTRIB_VERSION } from '../version.ts';
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
        const plans = loaded.experiments.map(planExperiment);
        for (const stage of o.force ?? []) {
          if (!plans.some((p) => p.instances.some((i) => i.name === stage))) throw new UsageError([{ file: '--force', message: `no stage named "${stage}"` }]);
        }
        const factory = findExecutor(o.executor, registry);
        if (!factory) throw new UsageError([{ file: '--executor', message: `unknown executor "${o.executor}" (known: ${executorNames(registry).join(', ')})` }]);
        const first = loaded.experiments[0]!;
        let options: unknown = first.executor;
        if (factory.options) {
          const parsed = factory.options.safeParse(first.executor, { reportInput: true });
          if (!parsed.success) {
            throw new UsageError(issuesToErrors({ source: loaded.source, doc: loaded.source.doc, origins: new Map() }, ['executor'], parsed.error.issues, first.executor));
          }
          options = parsed.data;
        }
        for (const check of registry.extensions(PREFLIGHTS).values()) {
          const problem = await check({ backend: first.backend });
          if (problem) throw new UsageError([errorAt({ source: loaded.source, doc: loaded.source.doc, origins: new Map() }, ['backend'], problem)]);
        }
        const jobs = o.jobs ?? availableParallelism();
        const store = new Store(resolve(o.runs));
        const executorEnv: ExecutorEnv = { registry, store, jobs, plugins: loaded.plugins, workerEntry: tools.workerEntry, options, cli: { jobs: o.jobs, redis: o.redis } };
        let executor;
        try {
          executor = factory.create(executorEnv);
        } catch (e) {
          if (e instanceof ExecutorSetupError) throw new UsageError([{ file: '--executor', message: e.message }]);
          throw e;
        }
        const reporter = createReporter(err, { tty: !!err.isTTY && !process.env.CI, plainEveryMs: Number(process.env.ATTRIB_PROGRESS_MS ?? 5000) });
        let result;
        try {
          result = await execute(plans, { store, executor, jobs: inFlight(executor, jobs), force: o.force, onEvent: (e) => reporter.event(e), attribVersion: ATTRIB_VERSION });
        } finally {
          reporter.close();
          await executor.close();
        }
        tools.print();
        tools.print(summary(plans, result.results));
        tools.setExitCode(result.ok ? EXIT.ok : EXIT.failed);
      });
  },
};
