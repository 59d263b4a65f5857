/**
 * The `report` and `compare` commands, contributed to the CLI through the registry's
 * COMMANDS extension point (pipeline/commands/types.ts CommandExtension).
 *
 *   attrib report CONFIG [--set P=V ...] [--runs DIR] [--targets N] [--top K] [--no-png]
 *       writes runs/<experiment>/report/index.html for every experiment (sweep point)
 *       and, for a sweep, runs/<name>/report/index.html over all points. Reads run.json
 *       files, manifests and artifacts; runs nothing. Stages not run yet show as such.
 *   attrib compare RUN_A RUN_B [--runs DIR] [--all] [--changed] [--metric NAME ...] [--json]
 *       what differs between two runs, sweep points or stages (RUN:STAGE): kind,
 *       params, inputs and metrics, as a table.
 */
import { relative, resolve, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { COMMANDS, type CommandExtension, type CommandTools } from '../pipeline/commands/types.ts';
import type { Registry } from '../pipeline/registry.ts';

const count = (name: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
  return n;
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Where the report of an experiment (or of a whole sweep, by its base name) goes. */
export function reportDir(runsDir: string, experiment: string): string {
  return join(runsDir, experiment, 'report');
}

export const reportCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    tools
      .sweepOptions(program.command('report'))
      .description('write a static HTML report (DAG, stage table, LDS plots, top proponents/opponents) per experiment and per sweep into runs/<experiment>/report/')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .addOption(tools.runsOption())
      .option('--targets <n>', 'targets shown per lds stage (best, median, worst LDS_j, ...)', count('--targets', 0), 3)
      .option('--top <k>', 'proponents and opponents shown per target', count('--top', 0), 5)
      .option('--no-png', 'do not write PNG copies of the plots')
      .action(async (config: string, o: { set?: string[]; sweep?: string[]; zip?: boolean; runs: string; targets: number; top: number; png: boolean }) => {
        const loaded = await tools.load(config, o.set, o);
        const { planExperiment } = await import('../pipeline/plan.ts'); // imported when used: start-up time (issue 18)
        const { graphFromPlans } = await import('../report/graph.ts');
        const { experimentPage, sweepPage, writePage } = await import('../report/page.ts');
        const runsDir = resolve(o.runs);
        const plans = loaded.experiments.map(planExperiment);
        const opts = { targets: o.targets, top: o.top, png: o.png, generated: `made by attrib report on ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC` };
        const sweep = plans.length > 1 ? plans[0]!.experiment.baseName : undefined;
        const show = (path: string) => relative(process.cwd(), path) || path;
        const links = new Map<string, string>();
        let neverRun = 0;
        for (const plan of plans) {
          const name = plan.experiment.name;
          const graph = graphFromPlans([plan], runsDir, loaded.source.display);
          if (!graph.experiments[0]!.run) neverRun++;
          const sweepLink = sweep ? `../../${encodeURIComponent(sweep)}/report/index.html` : undefined;
          const page = await experimentPage(graph, graph.experiments[0]!, opts, { sweep: sweepLink });
          const written = await writePage(reportDir(runsDir, name), page, opts);
          links.set(name, `../../${encodeURIComponent(name)}/report/index.html`);
          tools.print(`${show(written.page)}  (${page.plots.length} plots, ${page.images} images)`);
        }
        if (sweep) {
          const graph = graphFromPlans(plans, runsDir, loaded.source.display);
          const page = await sweepPage(graph, opts, links);
          const written = await writePage(reportDir(runsDir, sweep), page, opts);
          tools.print(`${show(written.page)}  (sweep of ${plans.length} points, ${page.plots.length} plots)`);
        }
        if (neverRun) tools.warn(`${neverRun} of ${plans.length} experiment(s) never ran: their pages show the stages as not run (attrib run ${config})`);
      });
  },
};

export const compareCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('compare')
      .description('print what differs between two runs, sweep points or stages: kind, params, inputs and metrics (run folders, run.json files, or experiment names under --runs; RUN:STAGE for one stage)')
      .argument('<run-a>', 'a run folder, its run.json, or an experiment name (name@key=value for a sweep point); RUN:STAGE for one stage')
      .argument('<run-b>', 'the run (or RUN:STAGE) to compare it with')
      .addOption(tools.runsOption())
      .option('--all', 'also list the metrics of stages that are the same store entry in both')
      .option('--changed', 'only metrics whose values differ')
      .option('--metric <name>', 'only this metric (repeatable); leaves out kind, params and inputs', collect)
      .option('--json', 'print the comparison as JSON')
      .action(async (a: string, b: string, o: { runs: string; all?: boolean; changed?: boolean; metric?: string[]; json?: boolean }) => {
        const { compare, compareRuns, findRunOrStage, RunNotFound, stageLabel } = await import('../report/compare.ts');
        const runsDir = resolve(o.runs);
        try {
          const label = stageLabel(a, b);
          const [runA, runB] = [findRunOrStage(a, runsDir, label), findRunOrStage(b, runsDir, label)];
          const opts = { all: o.all, changed: o.changed, metrics: o.metric };
          tools.print(o.json ? JSON.stringify(compare(runA, runB, opts), null, 2) : compareRuns(runA, runB, opts));
        } catch (e) {
          if (e instanceof RunNotFound) tools.fail(e.message);
          throw e;
        }
      });
  },
};

/** Adds `attrib report` and `attrib compare` to the CLI. */
export function bindReportCommands(registry: Registry): void {
  registry.register(COMMANDS, 'report', reportCommand);
  registry.register(COMMANDS, 'compare', compareCommand);
}
