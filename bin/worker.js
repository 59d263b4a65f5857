// Entry point of every worker thread started from the sources (index.ts): the same choice
// of compiled or source code as the executable (bin/entry.js). The compiled executable
// starts its threads from dist/bin/worker.js directly.
import { entry } from './entry.js';

await import(await entry('worker'));
