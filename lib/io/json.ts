/** JSON files as attrib writes them: 2-space indent, a final newline, atomically (atomic.ts). */
import { writeFileAtomic } from './atomic.ts';

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
