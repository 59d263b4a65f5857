/**
 * `attrib status CONFIG`: what runs of this config have done so far, with metrics, and
 * the units each executor that can tell (its status probe: squeue, a bullmq queue with
 * --redis) has queued or running.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandLine } from '../executor.ts';
import { knownExecutors } from '../executors/index.ts';
import { describeState, entryState, planExperiment } from '../plan.ts';
import { formatMetrics, table } from '../record.ts';
import type { Registry, StageHash } from '../registry.ts';
import { Store } from '../store.ts';
import type { CommandExtension, CommandTools } from './types.ts';
import { fitTable, PLAIN_COLUMNS } from '../progress.ts';

export interface RemoteUnits {
  queued: number;
  running: number;
  /** The executor that has them. */
  where: string;
}

/** Every executor's status probe, in the executor list's order; stages with nothing queued or running are left out. */
export async function remoteUnitStates(
  registry: Registry,
  store: Store,
  hashes: readonly StageHash[],
  opts: { executor: Record<string, unknown>; cli: CommandLine },
): Promise<{ units: Map<StageHash, RemoteUnits[]>; notes: string[] }> {
  const units = new Map<StageHash, RemoteUnits[]>();
  const notes: string[] = [];
  for (const factory of knownExecutors(registry)) {
    if (!factory.status) continue;
    const answer = await factory.status({ store, hashes, block: opts.executor[factory.name], cli: opts.cli });
    for (const [hash, c] of answer.units) {
      if (c.queued || c.running) units.set(hash, [...(units.get(hash) ?? []), { ...c, where: factory.name }]);
    }
    notes.push(...answer.notes);
  }
  return { units, notes };
}

/** ", 3 queued, 1 running (slurm)" or "". */
export function describeRemote(states: readonly RemoteUnits[] | undefined): string {
  return (states ?? []).map((r) => `, ${r.queued} queued, ${r.running} running (${r.where})`).join('');
}

export const statusCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { print } = tools;
    tools
      .sweepOptions(program.command('status'))
      .description('what runs of this config have done so far, with metrics')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .addOption(tools.runsOption())
      .option('--json', 'print the states as JSON')
      .option('--redis <url>', 'also count units queued / running on this bullmq Redis (default: $ATTRIB_REDIS_URL)')
      .action(async (config: string, o: { set?: string[]; sweep?: string[]; zip?: boolean; runs: string; redis?: string; json?: boolean }) => {
        const loaded = await tools.load(config, o.set, o);
        const store = new Store(resolve(o.runs));
        const plans = loaded.experiments.map(planExperiment);
        // Units queued / running in SLURM (squeue) or on a bullmq queue (--redis).
        const unfinished = [...new Set(plans.flatMap((p) => p.instances.map((i) => i.hash)))].filter((h) => entryState(store, h).state !== 'cached');
        const remote = await remoteUnitStates(tools.registry, store, unfinished, { executor: loaded.experiments[0]!.executor, cli: { redis: o.redis } });
        for (const note of remote.notes) tools.warn(`note: ${note}`);
        const experiments = plans.map((plan) => {
          const run = store.readRun(plan.experiment.name);
          const stages = plan.instances.map((inst) => {
            const state = entryState(store, inst.hash);
            const recorded = run?.[inst.name]?.hash === inst.hash ? run[inst.name] : undefined;
            let text = describeState(state);
            if (state.state !== 'cached' && store.isLocked(inst.hash)) text = `running${state.state === 'partial' ? `, ${text}` : ''}`;
            else if (state.state !== 'cached' && recorded && (recorded.status === 'failed' || recorded.status === 'blocked')) text = `${recorded.status}: ${recorded.error ?? ''}`;
            text += describeRemote(remote.units.get(inst.hash));
            const cached = state.state === 'cached' ? state.manifest : undefined;
            return { stage: inst.name, hash: inst.hash, state: text, seconds: cached ? cached.seconds : null, metrics: cached?.metrics ?? {} };
          });
          return { name: plan.experiment.name, neverRun: !run, stages };
        });
        if (o.json) {
          print(JSON.stringify(experiments, null, 2));
          return;
        }
        for (const e of experiments) {
          const rows = [['stage', 'state', 'seconds', 'metrics'], ...e.stages.map((s) => [s.stage, s.state, s.seconds === null ? '-' : s.seconds.toFixed(1), formatMetrics(s.metrics)])];
          print(`${e.name}${e.neverRun ? ' (never run)' : ''}`);
          print(fitTable(table(rows), Math.min(120, process.stdout.columns || PLAIN_COLUMNS))); // as `attrib run` prints it
          print();
        }
      });
  },
};
