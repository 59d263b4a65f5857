/**
 * Text from outside (Redis job logs, failure reasons, stage errors) reaches the terminal
 * without control characters or escape sequences: through the run reporters (what the
 * coordinator prints for every executor) and the summary table.
 */
import test from 'ava';
import { createReporter } from '../../pipeline/progress.ts';
import { summary } from '../../pipeline/record.ts';
import { printable } from '../../pipeline/terminal.ts';
import type { ExperimentPlan } from '../../pipeline/plan.ts';
import type { StageHash } from '../../pipeline/registry.ts';

const HOSTILE = 'ok\x1b]0;pwned\x07 \x1b[2J\x1b[1;1Hfake\rover\x00\x08\x9b31m \u202eevil\ttab\nnext';
const hash = 'a'.repeat(64) as StageHash;

/** No ESC, BEL, CR, NUL, BS, C1 or bidi override: nothing that moves the cursor or hides text. */
function assertInert(t: { false(v: boolean, m?: string): void }, text: string): void {
  t.false(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(text), JSON.stringify(text));
}

test('printable removes escape sequences, marks other control characters, keeps tabs and newlines', (t) => {
  // OSC, CSI (7- and 8-bit) go entirely; CR, NUL, BS and the bidi override become '?'.
  t.is(printable(HOSTILE), 'ok fake?over?? ?evil\ttab\nnext');
  t.is(printable('line one\r\nline two'), 'line one\nline two');
  t.is(printable('plain text: ünïcode ✓'), 'plain text: ünïcode ✓');
});

for (const tty of [false, true]) {
  test(`the ${tty ? 'TTY' : 'plain'} reporter prints job logs and failure reasons sanitized`, (t) => {
    let out = '';
    const reporter = createReporter({ write: (s: string) => (out += s) }, { tty, plainEveryMs: 0 });
    reporter.event({ type: 'log', stage: 'train', hash, message: HOSTILE });
    reporter.event({ type: 'failed', stage: 'train', hash, error: `unit 3 failed: ${HOSTILE}` });
    reporter.event({ type: 'warning', stage: 'train', hash, message: HOSTILE });
    reporter.close();
    // The TTY reporter's own cursor movement is the only escape sequence left.
    const withoutOwn = out.replace(/\x1b\[\d+A\x1b\[0J/g, '');
    assertInert(t, withoutOwn.replaceAll('\n', ''));
    t.true(out.includes('FAILED: unit 3 failed: ok fake?over'));
  });
}

test('the summary table prints stage errors sanitized', (t) => {
  const plan = { experiment: { name: 'e' }, instances: [{ name: 'train', hash }] } as unknown as ExperimentPlan;
  const text = summary([plan], new Map([[hash, { hash, status: 'failed' as const, seconds: 1, metrics: {}, error: HOSTILE }]]));
  assertInert(t, text.replaceAll('\n', ''));
  t.true(text.includes('error: ok fake?over'));
});
