/**
 * `attrib plan CONFIG`: stage instances in order, with their hash, state and why each is
 * not the instance a chosen earlier run used (default: the experiment's last complete
 * run; `--against RUN` names one by id).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { describeState, entryState, planExperiment, whyChanged, type ExperimentPlan } from '../plan.ts';
import { chooseRecord, table } from '../record.ts';
import { Store, type RunRecord } from '../store.ts';
import type { CommandExtension, CommandTools } from './types.ts';

export interface PlannedStage {
  stage: string;
  kind: string;
  hash: string;
  state: string;
  why: string;
}

/** Each instance's state and why it changed compared with `previous`. */
export function plannedStages(store: Store, plan: ExperimentPlan, previous: RunRecord | undefined): PlannedStage[] {
  return plan.instances.map((inst) => {
    const state = entryState(store, inst.hash);
    const why = state.state === 'cached' ? '' : (whyChanged(store, previous, inst) ?? '');
    return { stage: inst.name, kind: inst.spec.kind.name, hash: inst.hash, state: describeState(state), why };
  });
}

export function plannedTable(stages: PlannedStage[]): string {
  return table([['stage', 'kind', 'hash', 'state', 'why'], ...stages.map((s) => [s.stage, s.kind, s.hash.slice(0, 12), s.state, s.why])]);
}

/**
 * The run a plan is compared with: the record `against` names, else the last complete
 * one; a run from before run records existed has only run.json.
 */
export function comparedWith(store: Store, experiment: string, against?: string): { id?: string; stages: RunRecord } | undefined {
  const records = store.readHistory(experiment);
  const chosen = chooseRecord(records, against);
  if (chosen) return chosen;
  if (against || records.length) return undefined;
  const latest = store.readRun(experiment);
  return latest ? { stages: latest } : undefined;
}

export const planCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    const { print } = tools;
    tools
      .sweepOptions(program.command('plan'))
      .description('list stage instances in order with their hash and state (cached / partial / missing), and why each changed since an earlier run')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .addOption(tools.noPluginsOption())
      .addOption(tools.runsOption())
      .option('--against <run>', 'say why stages changed compared with this run (an id from `attrib runs`, or its start); default: the last complete run')
      .option('--json', 'print the plan as JSON')
      .action(async (config: string, o: { set?: string[]; sweep?: string[]; zip?: boolean; plugins: boolean; runs: string; against?: string; json?: boolean }) => {
        const loaded = await tools.load(config, o.set, o);
        const store = new Store(resolve(o.runs));
        const plans = loaded.experiments.map(planExperiment);
        const experiments = plans.map((plan) => {
          const name = plan.experiment.name;
          const previous = comparedWith(store, name, o.against);
          if (o.against && !previous) {
            const ids = store.readHistory(name).map((r) => r.id);
            tools.fail(`no run "${o.against}" of ${name}${ids.length ? ` (its runs: ${ids.join(', ')})` : ' (it has no recorded runs)'}`, '--against');
          }
          return { name, against: previous?.id ?? null, stages: plannedStages(store, plan, previous?.stages) };
        });
        const all = plans.flatMap((p) => p.instances);
        const distinct = new Set(all.map((i) => i.hash));
        const toRun = [...distinct].filter((h) => entryState(store, h).state !== 'cached');
        if (o.json) {
          print(JSON.stringify({ experiments, instances: all.length, distinct: distinct.size, toRun: toRun.length }, null, 2));
          return;
        }
        for (const e of experiments) {
          print(`${e.name}${e.against ? `  (compared with run ${e.against})` : ''}`);
          print(plannedTable(e.stages));
          print();
        }
        print(`${plans.length} experiment(s), ${all.length} stage instances, ${distinct.size} distinct; ${toRun.length} to run`);
      });
  },
};
