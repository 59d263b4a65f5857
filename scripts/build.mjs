#!/usr/bin/env node
/**
 * `npm run build`, also run by `npm ci` and `npm pack` (the `prepare` script): compiles
 * the shipped TypeScript to dist/ with tsc (tsconfig.build.json), copies the files the
 * code reads beside itself at run time, and writes dist/build.json, the list of compiled
 * sources that bin/entry.js compares with their modification times in a checkout.
 * Plain JavaScript: it runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
/** Read at run time relative to the module that reads them (import.meta.url), and plain JavaScript tsc does not copy. */
const ASSETS = ['lib/data/sources/iris.csv', 'lib/tfjs-extras.js'];

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // `npm ci --omit=dev` in a checkout: no compiler, and nothing that could run the sources either.
  console.error('attrib build: typescript is not installed (a devDependency); dist/ not built');
  process.exit(0);
}

rmSync(DIST, { recursive: true, force: true }); // no stale modules of deleted sources
const run = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--listEmittedFiles'], { cwd: ROOT, encoding: 'utf8' });
const emitted = run.stdout.split('\n').filter((line) => line.startsWith('TSFILE: '));
process.stdout.write(run.stdout.split('\n').filter((line) => line && !line.startsWith('TSFILE: ')).map((l) => `${l}\n`).join(''));
process.stderr.write(run.stderr);
if (run.status !== 0) {
  rmSync(DIST, { recursive: true, force: true }); // never a half-built dist/ that bin/ would run
  console.error(`attrib build: tsc failed (exit ${run.status ?? run.signal})`);
  process.exit(1);
}

for (const asset of ASSETS) {
  mkdirSync(dirname(join(DIST, asset)), { recursive: true });
  copyFileSync(join(ROOT, asset), join(DIST, asset));
}

// tsc rewrites the `.ts` specifiers of the JavaScript only; the declarations (the types a
// plugin's editor sees) would point at sources the package does not ship.
for (const line of emitted) {
  const file = line.slice('TSFILE: '.length).trim();
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.\.?\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
  if (fixed !== text) writeFileSync(file, fixed);
}

const sources = emitted
  .map((line) => relative(DIST, line.slice('TSFILE: '.length).trim()).split(sep).join('/'))
  .filter((file) => file.endsWith('.js'))
  .map((file) => file.replace(/\.js$/, '.ts'))
  .sort();
// Written last: its modification time is the build's.
writeFileSync(join(DIST, 'build.json'), `${JSON.stringify({ sources: [...ASSETS, ...sources] }, null, 1)}\n`);
console.log(`attrib build: ${sources.length} modules compiled to dist/`);
