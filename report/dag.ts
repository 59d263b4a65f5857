/**
 * The DAG as an SVG laid out here (no mermaid, nothing fetched): stages in topological
 * columns (a stage sits one column right of its deepest input), rows ordered by the mean
 * row of their inputs to keep edges short, edges as curves from output to input.
 */
import type { StageHash } from '../pipeline/registry.ts';
import type { NodeState, StageNode } from './graph.ts';
import { escapeHtml as esc } from './html.ts';

const W = 142;
const H = 46;
const COL_GAP = 40;
const ROW_GAP = 14;
const PAD = 10;

export const STATE_STYLE: Record<NodeState, { fill: string; stroke: string; dash?: string; legend: string }> = {
  done: { fill: '#e6f4ea', stroke: '#3a7d44', legend: 'finished' },
  running: { fill: '#fff4d6', stroke: '#c98a00', legend: 'running' },
  partial: { fill: '#fff4d6', stroke: '#c98a00', dash: '5 3', legend: 'partly done' },
  failed: { fill: '#fde8e8', stroke: '#c0392b', legend: 'failed' },
  corrupt: { fill: '#fde8e8', stroke: '#c0392b', dash: '5 3', legend: 'corrupt' },
  blocked: { fill: '#f2f2f2', stroke: '#888', dash: '2 3', legend: 'blocked' },
  missing: { fill: '#ffffff', stroke: '#999', dash: '5 3', legend: 'not run' },
};

export interface DagLayout {
  width: number;
  height: number;
  position: Map<StageHash, { x: number; y: number; col: number; row: number }>;
}

/** Columns by longest path from a source; rows by the barycenter of the inputs' rows. */
export function layoutDag(nodes: StageNode[]): DagLayout {
  const inGraph = new Map(nodes.map((n) => [n.hash, n]));
  const col = new Map<StageHash, number>();
  const colOf = (n: StageNode, stack = new Set<StageHash>()): number => {
    const known = col.get(n.hash);
    if (known !== undefined) return known;
    if (stack.has(n.hash)) return 0; // a cycle cannot come from the engine; do not loop on one
    stack.add(n.hash);
    let c = 0;
    for (const up of Object.values(n.inputs)) {
      const u = inGraph.get(up);
      if (u) c = Math.max(c, colOf(u, stack) + 1);
    }
    col.set(n.hash, c);
    return c;
  };
  const columns: StageNode[][] = [];
  for (const n of nodes) (columns[colOf(n)] ??= []).push(n);
  const row = new Map<StageHash, number>();
  for (const [c, members] of columns.entries()) {
    if (!members) continue;
    if (c > 0) {
      const center = (n: StageNode) => {
        const rows = Object.values(n.inputs).map((h) => row.get(h)).filter((r): r is number => r !== undefined);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
      };
      const keyed = members.map((n, i) => ({ n, i, k: center(n) }));
      keyed.sort((a, b) => a.k - b.k || a.i - b.i);
      members.splice(0, members.length, ...keyed.map((e) => e.n));
    }
    members.forEach((n, r) => row.set(n.hash, r));
  }
  const tallest = Math.max(1, ...columns.map((m) => m?.length ?? 0));
  const position = new Map<StageHash, { x: number; y: number; col: number; row: number }>();
  for (const [c, members] of columns.entries()) {
    if (!members) continue;
    // Centre shorter columns vertically.
    const offset = ((tallest - members.length) * (H + ROW_GAP)) / 2;
    members.forEach((n, r) => position.set(n.hash, { x: PAD + c * (W + COL_GAP), y: PAD + offset + r * (H + ROW_GAP), col: c, row: r }));
  }
  return {
    width: PAD * 2 + columns.length * W + Math.max(0, columns.length - 1) * COL_GAP,
    height: PAD * 2 + tallest * H + (tallest - 1) * ROW_GAP,
    position,
  };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function secondsText(n: StageNode): string {
  const s = n.manifest?.seconds;
  if (s === undefined) return '';
  return s >= 100 ? `${Math.round(s)} s` : `${Number(s.toPrecision(2))} s`;
}

/** The DAG of `nodes` as an inline SVG; `id` keeps marker ids unique on the page. */
export function dagSvg(nodes: StageNode[], id = 'dag'): string {
  const { width, height, position } = layoutDag(nodes);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="stage graph" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<defs><marker id="${id}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>`,
  );
  for (const n of nodes) {
    const to = position.get(n.hash)!;
    for (const [inputName, up] of Object.entries(n.inputs)) {
      const from = position.get(up);
      if (!from) continue;
      const x1 = from.x + W;
      const y1 = from.y + H / 2;
      const x2 = to.x - 1;
      const y2 = to.y + H / 2;
      const dx = Math.max(20, (x2 - x1) / 2);
      parts.push(
        `<path class="edge" d="M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}" fill="none" stroke="#999" stroke-width="1.2" marker-end="url(#${id}-arrow)"><title>${esc(inputName)}</title></path>`,
      );
    }
  }
  for (const n of nodes) {
    const { x, y } = position.get(n.hash)!;
    const style = STATE_STYLE[n.state];
    const second = [n.kind, n.state === 'done' ? secondsText(n) : STATE_STYLE[n.state].legend].filter(Boolean).join(' · ');
    const tip = [`${n.label} (${n.kind})`, n.hash.slice(0, 12), n.stateText].join('\n');
    parts.push(
      `<g class="node" data-state="${n.state}" data-hash="${n.hash}"><title>${esc(tip)}</title>`,
      `<rect x="${x}" y="${y}" width="${W}" height="${H}" rx="6" fill="${style.fill}" stroke="${style.stroke}" stroke-width="1.4"${style.dash ? ` stroke-dasharray="${style.dash}"` : ''}/>`,
      `<text x="${x + 10}" y="${y + 19}" font-size="12" font-weight="bold" fill="#222">${esc(clip(n.label, 20))}</text>`,
      `<text x="${x + 10}" y="${y + 35}" font-size="10" fill="#555">${esc(clip(second, 25))}</text>`,
      `</g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
