/**
 * Which code the executable and its worker threads run. The compiled JavaScript in
 * dist/ (`npm run build`; `npm ci` runs it) starts in a fraction of the time, so it runs
 * whenever it is there and, in a checkout, no source is newer than the build. Otherwise
 * (a checkout being edited, or ATTRIB_SOURCE=1 as the tests set) the TypeScript sources
 * run through tsx, a devDependency.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { register } from 'node:module';

const ROOT = new URL('../', import.meta.url);

/** The module to import for `bin/<name>`: dist/bin/<name>.js or bin/<name>.ts. */
export async function entry(name) {
  const compiled = new URL(`dist/bin/${name}.js`, ROOT).href;
  if (!existsSync(new URL('bin/attrib.ts', ROOT))) return compiled; // an installed package ships no sources
  if (process.env.ATTRIB_SOURCE !== '1' && builtAndFresh()) return compiled;
  await runSources();
  return new URL(`bin/${name}.ts`, ROOT).href;
}

function builtAndFresh() {
  const stamp = new URL('dist/build.json', ROOT);
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const { sources } = JSON.parse(readFileSync(stamp, 'utf8'));
  return sources.every((file) => statSync(new URL(file, ROOT), { throwIfNoEntry: false })?.mtimeMs <= built);
}

// Adds the "attrib-source" export condition, under which package.json's `exports` map
// `import 'attrib'` (plugins, docs/examples) to the .ts sources too, not to dist/.
const SOURCE_CONDITION = `export function resolve(specifier, context, next) {
  return next(specifier, { ...context, conditions: [...context.conditions, 'attrib-source'] });
}`;

async function runSources() {
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  register(`data:text/javascript,${encodeURIComponent(SOURCE_CONDITION)}`);
}
