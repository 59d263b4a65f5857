import { readFileSync } from 'node:fs';

/** attrib's own version (package.json), recorded in every manifest. */
export const ATTRIB_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
