/**
 * The one sanitizer for text that came from outside attrib (Redis job logs and failure
 * reasons, stage error messages, file names, YAML content) on its way to a terminal. A
 * worker, a plugin or a crafted file could otherwise move the cursor, rewrite earlier
 * lines (`\r`, CSI), set the window title or hyperlinks (OSC), or reorder text with
 * bidi overrides. Tabs and newlines stay; escape sequences are removed; every other
 * control character becomes `?`, so the reader sees that something was there.
 */
import { stripVTControlCharacters } from 'node:util';

// C0 (but \t and \n), \r, DEL, C1, and the bidi embedding/override/isolate controls.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return stripVTControlCharacters(text).replace(/\r\n/g, '\n').replace(CONTROL, '?');
}
