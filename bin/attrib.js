#!/usr/bin/env node
// The executable: the compiled code in dist/, or the TypeScript sources through tsx in a
// checkout without a fresh build (bin/entry.js says which). Plain JavaScript, so that
// `npx attrib` works from any working directory.
import { entry } from './entry.js';

await import(await entry('attrib'));
