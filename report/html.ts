/**
 * HTML building blocks: escaping, tables, the page shell with its inline style sheet.
 * Pages carry no script and reference no file or URL: they work opened from disk.
 */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Cells are HTML already (escape text with escapeHtml). The first row is the header. */
export function htmlTable(
  rows: string[][],
  opts: { className?: string; numeric?: number[]; columnClass?: Record<number, string>; rowClass?: (bodyRow: number) => string | undefined } = {},
): string {
  const [head, ...body] = rows;
  const num = new Set(opts.numeric ?? []);
  const classOf = (i: number) => [num.has(i) ? 'num' : '', opts.columnClass?.[i] ?? ''].filter(Boolean).join(' ');
  const cell = (tag: string, c: string, i: number) => `<${tag}${classOf(i) ? ` class="${classOf(i)}"` : ''}>${c}</${tag}>`;
  return [
    `<table${opts.className ? ` class="${opts.className}"` : ''}>`,
    head ? `<thead><tr>${head.map((c, i) => cell('th', c, i)).join('')}</tr></thead>` : '',
    `<tbody>`,
    ...body.map((r, b) => {
      const rc = opts.rowClass?.(b);
      return `<tr${rc ? ` class="${rc}"` : ''}>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`;
    }),
    `</tbody></table>`,
  ].join('\n');
}

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #e3e3e3; }
h3 { font-size: 14px; margin: 18px 0 6px; }
p.meta, p.caption, .note { color: #666; font-size: 12px; }
p.caption { max-width: 820px; margin: 4px 0 0; }
nav.toc { font-size: 12px; margin: 8px 0 0; }
nav.toc a { margin-right: 12px; }
a { color: #1f5fa8; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
th, td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.metrics { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; color: #444; max-width: 560px; }
.state { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; border: 1px solid; }
.headline { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.headline .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 180px; }
.headline .value { font-size: 22px; font-weight: 600; }
figure.plot { display: inline-block; margin: 6px 18px 14px 0; vertical-align: top; }
figure.plot figcaption { font-size: 12px; font-weight: 600; margin-bottom: 4px; }
.legend span { margin-right: 12px; font-size: 11px; }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; border: 1px solid; }
.target-block { display: flex; gap: 16px; align-items: flex-start; border-top: 1px solid #eee; padding: 10px 0; }
.target-block > div { min-width: 0; }
.target-block .who { min-width: 150px; font-size: 12px; }
.examples { display: flex; flex-wrap: wrap; gap: 6px; }
.example { text-align: center; font-size: 10px; color: #444; width: 72px; }
.example img { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid #ccc; display: block; margin: 0 auto 2px; }
.example.is-target img { border: 2px solid #333; }
.row-label { font-size: 11px; font-weight: 600; margin: 2px 0; }
.pro { color: #1a7f37; }
.opp { color: #b42318; }
table.features td { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; }
table.features tr.target-row td { font-weight: 600; background: #f7f7f7; }
.problem { color: #b42318; font-size: 12px; }
`;

/** A whole page: title, the given body HTML, inline CSS, no script. */
export function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network, no scripts: a page that can be opened from disk or mailed.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body><main>',
    body,
    '</main></body>',
    '</html>',
    '',
  ].join('\n');
}
