#!/usr/bin/env node
// The executable. attrib is written in TypeScript and runs through tsx, registered here
// (not with --import) so that `npx attrib` works from any working directory.
import { register } from 'tsx/esm/api';

register();
await import('./attrib.ts');
