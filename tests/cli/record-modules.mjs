/**
 * Preload (`node --import ./tests/cli/record-modules.mjs ...`) that appends to the file
 * named by ATTRIB_RECORD_MODULES every module the process loads: each ES module URL as
 * the loader resolves it, and at exit every CommonJS file in require's cache (packages
 * such as @tensorflow/tfjs-core and ioredis load through require, whose inner requires
 * never pass the ES loader). tests/cli/lean-start.test.ts reads the list.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.ATTRIB_RECORD_MODULES;
if (out) {
  // The resolve hook runs on the loader's own thread; it writes each URL as it resolves.
  const hooks = `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { out } });
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => appendFileSync(out, Object.keys(cache).map((f) => `${f}\n`).join('')));
}
