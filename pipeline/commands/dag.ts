/** `attrib dag CONFIG`: the DAG as mermaid (default) or graphviz dot. */
import { Option, type Command } from 'commander';
import { instanceLabels } from '../execute.ts';
import { planExperiment, type ExperimentPlan } from '../plan.ts';
import type { StageHash } from '../registry.ts';
import type { CommandExtension, CommandTools } from './types.ts';

export const dagCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    tools
      .sweepOptions(program.command('dag'))
      .description('print the DAG as mermaid (default) or graphviz dot; sweep points share nodes they share in the store')
      .argument('<config>', 'experiment YAML')
      .addOption(tools.setOption())
      .addOption(tools.noPluginsOption())
      .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'))
      .action(async (config: string, o: { set?: string[]; sweep?: string[]; zip?: boolean; plugins: boolean; format: 'mermaid' | 'dot' }) => {
        const loaded = await tools.load(config, o.set, o);
        tools.print(renderDag(loaded.experiments.map(planExperiment), o.format));
      });
  },
};

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
