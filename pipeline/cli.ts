/**
 * The command line: run, plan, status, dag, validate, unit, gc, kinds. Each command is
 * a thin shell over the steps (config -> plan -> execute -> record); exit codes are 0
 * done, 1 a stage failed, 2 invalid config or arguments. User mistakes print one line
 * each, never a stack trace.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type LoadedConfig } from './config.ts';
import { formatError, type ConfigError } from './errors.ts';
import { instanceLabels } from './execute.ts';
import { executorNames } from './executors/index.ts';
import { isStageHash } from './hash.ts';
import { loadPlugins } from './plugins.ts';
import { describeState, entryState, planExperiment, whyChanged, type ExperimentPlan } from './plan.ts';
import { createReporter } from './progress.ts';
import { runExperiments } from './run.ts';
import { formatMetrics, summary, table } from './record.ts';
import { hasUnits, type Registry, type StageHash } from './registry.ts';
import { Store } from './store.ts';
import { finishStage, performTask } from './task.ts';
import { arraySpec, expandStage } from './executors/slurm.ts';
import { ATTRIB_VERSION } from './version.ts';
import { kindsCommand } from './commands/kinds.ts';
import { schemaCommand } from './commands/schema.ts';
import { workerCommand } from './commands/worker.ts';
import { redisUrl } from './distributed/redis.ts';
import { describeRemote, remoteUnitStates } from './distributed/status.ts';

export interface CliEnv {
  /** Built-in kinds already registered; config plugins are added to it. */
  registry: Registry;
  /** Entry module of worker threads (bin/worker.js). */
  workerEntry: URL;
  stdout?: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr?: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/**
 * A command contributed from outside the engine (report, compare, schema, init...):
 * registered with `registry.register('command', name, extension)` by the executable
 * (cli/, through bin/attrib.ts) or by a plugin, and added to the program after the engine's own commands.
 */
export interface CommandExtension {
  define(program: Command, tools: CommandTools): void;
}

export interface CommandTools {
  registry: Registry;
  /** Loads and validates a config (plugins included); a user's mistake exits 2. */
  load(config: string, set?: string[]): Promise<LoadedConfig>;
  print(text?: string): void;
  /** Writes to stderr. */
  warn(text: string): void;
  /** Stops the command as a user's mistake: prints `message`, exit code 2. */
  fail(message: string, file?: string): never;
  setExitCode(code: number): void;
  /** The standard `--runs <dir>` option (default ./runs). */
  runsOption(): Option;
  /** The standard repeatable `--set path=value` option. */
  setOption(): Option;
}

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A user's mistake found while running a command: printed as is, exit 2. */
class UsageError extends Error {
  constructor(readonly errors: ConfigError[]) {
    super(errors.map(formatError).join('\n'));
  }
}

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Runs the CLI on `argv` (the arguments after the program name); resolves to the exit code. */
export async function main(argv: readonly string[], env: CliEnv): Promise<number> {
  const out = env.stdout ?? process.stdout;
  const err = env.stderr ?? process.stderr;
  const print = (text = '') => out.write(`${text}\n`);
  let code: number = EXIT.ok;

  const program = new Command('attrib')
    .description('Data-attribution experiments (TRAK, datamodels, LDS) declared in YAML, run as cached, resumable DAGs.')
    .version(ATTRIB_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });

  const runsOption = () => new Option('--runs <dir>', 'where run folders and the store live').default('./runs');
  const setOption = () => new Option('--set <path=value>', 'override a config value (repeatable), e.g. stages.train.params.fit.epochs=3').argParser(collect);
  const load = async (config: string, set: string[] = []): Promise<LoadedConfig> => {
    const loaded = await loadConfig(config, { registry: env.registry, set });
    if (!loaded.ok) throw new UsageError(loaded.errors);
    return loaded.value;
  };

  program
    .command('run')
    .description('run every stage that is not cached yet (resuming half-finished ones)')
    .argument('<config>', 'experiment YAML')
    .addOption(setOption())
    .option('--jobs <n>', 'tasks at once: worker threads, and units in flight (default: number of cores)', positiveInt('--jobs'))
    .option('--force <stage>', 're-run this stage and everything downstream even if cached (repeatable)', collect)
    .addOption(runsOption())
    .option('--executor <name>', `where tasks run: ${executorNames(env.registry).join(', ')} (docs/scale-out.md)`, 'local')
    .option('--redis <url>', 'the bullmq executor\'s Redis (default: $ATTRIB_REDIS_URL)')
    .action(async (config: string, o: { set?: string[]; jobs?: number; force?: string[]; runs: string; executor: string; redis?: string }) => {
      const loaded = await load(config, o.set);
      const reporter = createReporter(err, { tty: !!err.isTTY && !process.env.CI, plainEveryMs: Number(process.env.ATTRIB_PROGRESS_MS ?? 5000) });
      let ran;
      try {
        ran = await runExperiments(loaded, {
          registry: env.registry,
          runsDir: o.runs,
          executor: o.executor,
          jobs: o.jobs,
          force: o.force,
          redis: redisUrl(o.redis),
          workerEntry: env.workerEntry,
          onEvent: (e) => reporter.event(e),
        });
      } finally {
        reporter.close();
      }
      if (!ran.ok) throw new UsageError(ran.errors);
      print();
      print(summary(ran.value.plans, ran.value.results));
      code = ran.value.ok ? EXIT.ok : EXIT.failed;
    });

  program
    .command('plan')
    .description('list stage instances in order with their hash and state (cached / partial / missing), and why each changed')
    .argument('<config>', 'experiment YAML')
    .addOption(setOption())
    .addOption(runsOption())
    .action(async (config: string, o: { set?: string[]; runs: string }) => {
      const loaded = await load(config, o.set);
      const store = new Store(resolve(o.runs));
      const plans = loaded.experiments.map(planExperiment);
      for (const plan of plans) {
        const previous = store.readRun(plan.experiment.name);
        const rows = [['stage', 'kind', 'hash', 'state', 'why']];
        for (const inst of plan.instances) {
          const state = entryState(store, inst.hash);
          const why = state.state === 'cached' ? '' : (whyChanged(store, previous, inst) ?? '');
          rows.push([inst.name, inst.spec.kind.name, inst.hash.slice(0, 12), describeState(state), why]);
        }
        print(`${plan.experiment.name}`);
        print(table(rows));
        print();
      }
      const all = plans.flatMap((p) => p.instances);
      const distinct = new Set(all.map((i) => i.hash));
      const toRun = [...distinct].filter((h) => entryState(store, h).state !== 'cached');
      print(`${plans.length} experiment(s), ${all.length} stage instances, ${distinct.size} distinct; ${toRun.length} to run`);
    });

  program
    .command('status')
    .description('what runs of this config have done so far, with metrics')
    .argument('<config>', 'experiment YAML')
    .addOption(setOption())
    .addOption(runsOption())
    .option('--redis <url>', 'also count units queued / running on this bullmq Redis (default: $ATTRIB_REDIS_URL)')
    .action(async (config: string, o: { set?: string[]; runs: string; redis?: string }) => {
      const loaded = await load(config, o.set);
      const store = new Store(resolve(o.runs));
      const plans = loaded.experiments.map(planExperiment);
      // Units queued / running in SLURM (squeue) or on a bullmq queue (--redis).
      const unfinished = [...new Set(plans.flatMap((p) => p.instances.map((i) => i.hash)))].filter((h) => entryState(store, h).state !== 'cached');
      const remote = await remoteUnitStates(store, unfinished, { redis: redisUrl(o.redis), executor: loaded.experiments[0]!.executor });
      for (const note of remote.notes) err.write(`note: ${note}\n`);
      for (const plan of plans) {
        const run = store.readRun(plan.experiment.name);
        const rows = [['stage', 'state', 'seconds', 'metrics']];
        for (const inst of plan.instances) {
          const state = entryState(store, inst.hash);
          const recorded = run?.[inst.name]?.hash === inst.hash ? run[inst.name] : undefined;
          let text = describeState(state);
          if (state.state !== 'cached' && store.isLocked(inst.hash)) text = `running${state.state === 'partial' ? `, ${text}` : ''}`;
          else if (state.state !== 'cached' && recorded && (recorded.status === 'failed' || recorded.status === 'blocked')) text = `${recorded.status}: ${recorded.error ?? ''}`;
          text += describeRemote(remote.units.get(inst.hash));
          const metrics = state.state === 'cached' ? state.manifest.metrics : {};
          rows.push([inst.name, text, state.state === 'cached' ? String(state.manifest.seconds) : '-', formatMetrics(metrics)]);
        }
        print(`${plan.experiment.name}${run ? '' : ' (never run)'}`);
        print(table(rows));
        print();
      }
    });

  program
    .command('dag')
    .description('print the DAG as mermaid (default) or graphviz dot; sweep points share nodes they share in the store')
    .argument('<config>', 'experiment YAML')
    .addOption(setOption())
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'))
    .action(async (config: string, o: { set?: string[]; format: 'mermaid' | 'dot' }) => {
      const loaded = await load(config, o.set);
      print(renderDag(loaded.experiments.map(planExperiment), o.format));
    });

  program
    .command('validate')
    .description('check the config (schema, stage kinds, inputs, cycles) without running anything')
    .argument('<config>', 'experiment YAML')
    .addOption(setOption())
    .action(async (config: string, o: { set?: string[] }) => {
      const loaded = await load(config, o.set);
      const stages = loaded.experiments[0]!.stages.length;
      print(`${loaded.source.display}: ok (${loaded.experiments.length} experiment(s), ${stages} stages each)`);
    });

  /** Loads a store entry for `unit` / `slurm-expand`, with only the plugins on the command line. */
  const openEntry = async (hash: string, o: { runs: string; plugin?: string[] }) => {
    if (!isStageHash(hash)) throw new UsageError([{ message: `"${hash}" is not a stage hash (64 hex digits)` }]);
    const store = new Store(resolve(o.runs));
    const record = store.readStage(hash);
    if (!record) throw new UsageError([{ message: `no stage.json in ${store.entry(hash)}` }]);
    const failures = await loadPlugins(env.registry, (o.plugin ?? []).map((p) => resolve(p)));
    if (failures.length) throw new UsageError(failures.map((f) => ({ file: f.plugin, message: f.message })));
    const kind = env.registry.stage(record.kind);
    if (!kind) throw new UsageError([{ message: `stage kind "${record.kind}" is not registered: pass the module that registers it with --plugin (the config that planned this entry named: ${record.plugins.join(', ') || 'none'})` }]);
    return { store, kind, hash: hash as StageHash };
  };
  const pluginOption = () => new Option('--plugin <module>', 'a plugin module registering stage kinds (repeatable); only these are loaded, never paths read from the store').argParser(collect);

  program
    .command('unit')
    .description('run one work unit of a stage, or finish the stage (run/combine, then the manifest), from its store entry alone (what SLURM jobs run)')
    .argument('<hash>', 'the stage instance hash (runs/store/<hash>)')
    .argument('<index>', 'unit index, or "finish"', (v) => {
      if (v === 'finish') return v;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('index must be a non-negative integer or "finish"');
      return n;
    })
    .addOption(runsOption())
    .addOption(pluginOption())
    .action(async (hash: string, index: number | 'finish', o: { runs: string; plugin?: string[] }) => {
      const entry = await openEntry(hash, o);
      const what = index === 'finish' ? 'finish' : `unit ${index}`;
      if (index !== 'finish' && !hasUnits(entry.kind)) throw new UsageError([{ message: `stage kind "${entry.kind.name}" has no units` }]);
      try {
        const hooks = { log: (m: string) => err.write(`[${what}] ${m}\n`), progress: () => {} };
        if (index === 'finish') await finishStage(env.registry, entry.store, entry.hash, ATTRIB_VERSION, hooks);
        else await performTask(env.registry, entry.store, { step: 'unit', hash: entry.hash, index }, hooks);
        print(`${what} of ${hash.slice(0, 12)}: done`);
      } catch (e) {
        err.write(`${what} of ${hash.slice(0, 12)} failed: ${e instanceof Error ? e.message : String(e)}\n`);
        code = EXIT.failed;
      }
    });

  program
    .command('slurm-expand')
    .description("count a stage's units and submit them as a SLURM job array that its finish job waits for (what the slurm executor's count jobs run)")
    .argument('<hash>', 'the stage instance hash (runs/store/<hash>)')
    .requiredOption('--spec <json>', 'the array to submit (written by the coordinator into the job script)')
    .addOption(runsOption())
    .addOption(pluginOption())
    .action(async (hash: string, o: { runs: string; plugin?: string[]; spec: string }) => {
      let spec;
      try {
        spec = arraySpec.parse(JSON.parse(o.spec));
      } catch (e) {
        throw new UsageError([{ file: '--spec', message: e instanceof Error ? e.message.split('\n')[0]! : String(e) }]);
      }
      const entry = await openEntry(hash, o);
      try {
        print(`expand of ${hash.slice(0, 12)}: ${await expandStage(env.registry, entry.store, entry.hash, spec, { log: (m) => err.write(`[expand] ${m}\n`), progress: () => {} })}`);
      } catch (e) {
        err.write(`expand of ${hash.slice(0, 12)} failed: ${e instanceof Error ? e.message : String(e)}\n`);
        code = EXIT.failed;
      }
    });

  program
    .command('gc')
    .description('remove store entries that no run.json references (directly or as an upstream)')
    .addOption(runsOption())
    .option('--dry-run', 'only list what would be removed')
    .action((o: { runs: string; dryRun?: boolean }) => {
      const store = new Store(resolve(o.runs));
      const { removed, kept, skippedLocked } = store.gc({ dryRun: o.dryRun });
      for (const h of removed) print(`${o.dryRun ? 'would remove' : 'removed'} store/${h}`);
      for (const h of skippedLocked) print(`kept store/${h} (in use by a running attrib)`);
      print(`${o.dryRun ? 'would remove' : 'removed'} ${removed.length} entries, kept ${kept}`);
    });

  const tools: CommandTools = {
    registry: env.registry,
    load,
    print,
    warn: (text) => err.write(`${text}\n`),
    fail: (message, file) => {
      throw new UsageError([{ file, message }]);
    },
    setExitCode: (c) => {
      code = c;
    },
    runsOption,
    setOption,
  };
  // The engine's own commands that describe the registry (pipeline/commands/), then contributed ones.
  for (const command of [kindsCommand, schemaCommand, workerCommand(env.workerEntry)]) command.define(program, tools);
  for (const extension of env.registry.collection<CommandExtension>('command').values()) extension.define(program, tools);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      err.write(`${e.message}\n`);
      return EXIT.usage;
    }
    // Not a user's mistake: a bug or an environment problem. Keep the stack for a report.
    err.write(`attrib: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failed;
  }
  return code;
}

/** Mermaid or dot; nodes are store entries, so sweep points share the ones they share. */
export function renderDag(plans: ExperimentPlan[], format: 'mermaid' | 'dot'): string {
  const labels = instanceLabels(plans);
  const nodes = new Map<StageHash, { label: string; kind: string }>();
  const edges = new Map<string, { from: StageHash; to: StageHash; input: string }>();
  for (const plan of plans) {
    for (const inst of plan.instances) {
      nodes.set(inst.hash, { label: labels.get(inst.hash)!, kind: inst.spec.kind.name });
      for (const [input, up] of Object.entries(inst.inputs)) edges.set(`${up}>${inst.hash}>${input}`, { from: up, to: inst.hash, input });
    }
  }
  const id = (h: StageHash) => `s${h.slice(0, 10)}`;
  if (format === 'dot') {
    return [
      'digraph attrib {',
      '  rankdir=LR;',
      '  node [shape=box];',
      ...[...nodes].map(([h, n]) => `  ${id(h)} [label=${JSON.stringify(`${n.label}\n${n.kind}`)}];`),
      ...[...edges.values()].map((e) => `  ${id(e.from)} -> ${id(e.to)} [label=${JSON.stringify(e.input)}];`),
      '}',
    ].join('\n');
  }
  const text = (s: string) => s.replace(/"/g, '#quot;');
  return [
    'flowchart LR',
    ...[...nodes].map(([h, n]) => `  ${id(h)}["${text(n.label)}<br/><i>${text(n.kind)}</i>"]`),
    ...[...edges.values()].map((e) => `  ${id(e.from)} -->|${text(e.input)}| ${id(e.to)}`),
  ].join('\n');
}
