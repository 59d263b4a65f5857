/**
 * Entry of every worker thread of the local executor: the same built-in kinds as the
 * CLI (plus the config's plugins, which the engine's worker loop loads from workerData),
 * then serve tasks until the pool terminates the thread.
 */
import { serveWorker } from '../pipeline/executors/local/worker-loop.ts';
import { registerBuiltins } from '../stages/index.ts';

serveWorker(registerBuiltins);
