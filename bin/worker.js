// Entry point of every worker thread: registers tsx, then the same kinds as the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
