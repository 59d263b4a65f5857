/**
 * `attrib kinds [NAME]`: the registered stage kinds, one line each, or one kind in
 * detail (inputs, output, params with types, defaults and descriptions, the equation it
 * computes). `--markdown` prints the config reference (docs/reference.md is this
 * output, checked in). Everything comes from the registry and the kinds' zod schemas
 * (through pipeline/schema.ts), so it cannot drift from the code.
 */
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandExtension, CommandTools } from './types.ts';
import { loadSource } from '../load.ts';
import { loadPlugins } from '../plugins.ts';
import { table } from '../record.ts';
import { hasUnits, type Registry, type StageKind } from '../registry.ts';
import { configJsonSchema, describeParams, paramsJsonSchema, yamlText, type JsonSchema, type ParamDoc } from '../schema.ts';

/**
 * Loads the plugins a config names (paths relative to the config), without requiring
 * the rest of the config to be valid: someone asking for kinds or a schema may be
 * half-way through writing it.
 */
export async function loadConfigPlugins(registry: Registry, config: string, tools: Pick<CommandTools, 'fail'>): Promise<void> {
  const source = loadSource(config);
  if (!source.ok) tools.fail(source.errors.map((e) => `${e.file ?? config}${e.line ? `:${e.line}` : ''}: ${e.message}`).join('\n'));
  const listed = (source.value.doc.toJS() as { plugins?: unknown } | null)?.plugins;
  const plugins = Array.isArray(listed) ? listed.filter((p): p is string => typeof p === 'string') : [];
  const failures = await loadPlugins(registry, plugins.map((p) => resolve(dirname(source.value.file), p)));
  if (failures.length) tools.fail(failures.map((f) => `${source.value.display} plugins.${f.index}: plugin ${plugins[f.index]}: ${f.message}`).join('\n'));
}

/** The params of a kind as rows, or the reason they cannot be read. */
function paramRows(kind: StageKind, registry: Registry): { rows: ParamDoc[] } | { error: string } {
  try {
    return { rows: describeParams(paramsJsonSchema(kind, registry)) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function defaultText(row: ParamDoc): string {
  if (row.hasDefault) return yamlText(row.default);
  return row.required ? 'required' : '-';
}

/** `attrib kinds NAME`, as text. */
export function renderKind(kind: StageKind, registry: Registry): string {
  const out: string[] = [];
  out.push(`${kind.name} (version ${kind.version}) -> ${kind.output}`);
  out.push(kind.description);
  if (kind.equation) out.push('', 'computes:', `  ${kind.equation}`);
  const inputs = Object.entries(kind.inputs);
  out.push('', `inputs:${inputs.length ? '' : ' none'}`);
  if (inputs.length) {
    const rows = inputs.map(([name, spec]) => [name, spec.kinds.join(' | ') + (spec.many ? ' (list)' : '') + (spec.optional ? ' (optional)' : ''), spec.description ?? '']);
    out.push(indent(table([['input', 'artifact', 'description'], ...rows])));
  }
  out.push('', `output: ${kind.output}`);
  const params = paramRows(kind, registry);
  if ('error' in params) {
    out.push('', `params: cannot be read (${params.error})`);
  } else if (params.rows.length === 0) {
    out.push('', 'params: none');
  } else {
    out.push('', 'params:');
    const head = ['param', 'type', 'default', 'description'];
    const plain = params.rows.filter((r) => !r.when);
    out.push(indent(table([head, ...plain.map((r) => [r.path, r.type, defaultText(r), r.description ?? ''])])));
    const groups = new Map<string, ParamDoc[]>();
    for (const r of params.rows.filter((r) => r.when)) groups.set(r.when!, [...(groups.get(r.when!) ?? []), r]);
    for (const [when, rows] of groups) {
      out.push('', `  when ${when}:`);
      out.push(indent(table([head, ...rows.map((r) => [r.path, r.type, defaultText(r), r.description ?? ''])]), 4));
    }
  }
  out.push('', `work: ${hasUnits(kind) ? 'work units + combine (resumable unit by unit, spread over workers)' : 'one step (run)'}`);
  return out.join('\n');
}

function indent(text: string, n = 2): string {
  return text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}

/** `attrib kinds`, as text: one line per kind. */
export function renderKindList(registry: Registry): string {
  const kinds = [...registry.stages.values()];
  if (kinds.length === 0) return 'no stage kinds registered';
  return table([
    ['kind', 'inputs', 'output', 'description'],
    ...kinds.map((k) => [k.name, Object.keys(k.inputs).join(', ') || '-', k.output, k.description]),
  ]);
}

// ---------------------------------------------------------------------------
// The reference, as markdown.

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** Prose in a table cell: no raw HTML (`runs/<name>/`). */
const prose = (text: string) => cell(text).replace(/</g, '&lt;').replace(/>/g, '&gt;');
const code = (text: string) => (text ? `\`${cell(text)}\`` : '');

function mdTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function mdParams(rows: ParamDoc[]): string {
  return mdTable(
    ['param', 'type', 'default', 'description'],
    rows.map((r) => [
      `\`${r.path}\`${r.when ? ` <br/>(${code(r.when)})` : ''}`,
      code(r.type),
      r.hasDefault ? code(yamlText(r.default)) : r.required ? '**required**' : '',
      prose(r.description ?? ''),
    ]),
  );
}

export const REFERENCE_HEADER = '<!-- Generated from the registry by `npx tsx scripts/gen-docs.ts` (also `npx attrib kinds --markdown`). Do not edit: a test fails when it is stale. -->';

/** The config reference: top-level keys, the stage entry, every registered kind. */
export function renderReference(registry: Registry): string {
  const { schema } = configJsonSchema(registry);
  const top = schema.properties as Record<string, JsonSchema>;
  const kinds = [...registry.stages.values()];
  const out: string[] = [REFERENCE_HEADER, '', '# Config reference', ''];
  out.push(
    'Every key an attrib config accepts, generated from the zod schemas the engine validates with.',
    'Unknown keys are errors everywhere. The same information is in `npx attrib kinds NAME` and, for editors,',
    'in the JSON Schema `schema/attrib.schema.json` (`npx attrib schema`).',
    '',
    '## Top level',
    '',
  );
  const topRows = describeParams({ ...schema, properties: { ...top, stages: { description: top.stages?.description } } }).map((r) =>
    r.path === 'stages' ? { ...r, type: 'mapping: stage name -> stage (below)' } : r,
  );
  out.push(mdParams(topRows));
  out.push('', '## A stage', '', 'Each entry of `stages:` (its name: `[a-z0-9_-]+`):', '');
  out.push(
    mdTable(
      ['key', 'description'],
      [
        ['`kind`', `the stage kind, one of: ${kinds.map((k) => `[\`${k.name}\`](#${k.name})`).join(', ')}`],
        ['`inputs`', 'input name -> the name of the upstream stage whose artifact it reads, or a list of names for an input marked (list) (each kind lists its inputs)'],
        ['`params`', 'the kind\'s params (below); defaults are applied before hashing, so spelling out a default does not change the hash'],
        ['`seed`', 'integer ≥ 0: this stage\'s seed instead of the experiment\'s'],
      ],
    ),
  );
  out.push('', '## Stage kinds', '');
  out.push(mdTable(['kind', 'inputs', 'output', 'description'], kinds.map((k) => [`[\`${k.name}\`](#${k.name})`, Object.entries(k.inputs).map(([n, s]) => `${n}: ${s.kinds.join(' \\| ')}${s.many ? ' (list)' : ''}`).join(', ') || '-', `\`${k.output}\``, prose(k.description)])));
  for (const kind of kinds) {
    out.push('', `### ${kind.name}`, '', `${prose(kind.description)}.`.replace(/\.\.$/, '.'), '');
    if (kind.equation) out.push('```', kind.equation, '```', '');
    const inputs = Object.entries(kind.inputs);
    if (inputs.length) {
      out.push(mdTable(['input', 'artifact', 'description'], inputs.map(([n, s]) => [`\`${n}\``, `${s.kinds.map((k) => `\`${k}\``).join(' \\| ')}${s.many ? ' (list)' : ''}${s.optional ? ' (optional)' : ''}`, prose(s.description ?? '')])), '');
    } else {
      out.push('Inputs: none.', '');
    }
    out.push(`Output: \`${kind.output}\`. Version ${kind.version}. ${hasUnits(kind) ? 'Runs as work units (resumable unit by unit).' : 'Runs in one step.'}`, '');
    const params = paramRows(kind, registry);
    if ('error' in params) out.push(`Params: cannot be read (${params.error}).`);
    else if (params.rows.length === 0) out.push('Params: none.');
    else out.push(mdParams(params.rows));
  }
  return `${out.join('\n')}\n`;
}

export const kindsCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('kinds')
      .description('list the registered stage kinds (built-in, plus a config\'s plugins with --config); with NAME, its inputs, output, params and equation')
      .argument('[name]', 'show one kind in detail')
      .option('--config <file>', 'also load the plugins this config names')
      .option('--markdown', 'print the config reference of every kind as markdown (docs/reference.md)')
      .action(async (name: string | undefined, o: { config?: string; markdown?: boolean }) => {
        if (o.config) await loadConfigPlugins(tools.registry, o.config, tools);
        if (o.markdown) {
          tools.print(renderReference(tools.registry).trimEnd());
          return;
        }
        if (!name) {
          tools.print(renderKindList(tools.registry));
          return;
        }
        const kind = tools.registry.stage(name);
        if (!kind) {
          const known = [...tools.registry.stages.keys()].join(', ');
          tools.fail(`no stage kind named "${name}" (known: ${known || 'none'})`);
        }
        tools.print(renderKind(kind, tools.registry));
      });
  },
};
