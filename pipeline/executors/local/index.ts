/**
 * The default executor, `--executor local`: a pool of `--jobs` worker threads on this
 * machine (pool.ts), each serving tasks from bin/worker.js (worker-loop.ts). The
 * distributed executors use the pool too, for the steps they keep on the coordinator
 * (bullmq) or for the units a worker process runs (`attrib worker`).
 */
import type { ExecutorFactory } from '../../executor.ts';
import { ThreadPool } from './pool.ts';

export { ThreadPool } from './pool.ts';

export const localExecutor: ExecutorFactory = {
  name: 'local',
  description: 'a pool of --jobs worker threads on this machine (default)',
  create: ({ workerEntry, jobs, plugins, store }) => {
    if (!workerEntry) throw new Error('the local executor needs a workerEntry (bin/worker.js)');
    return new ThreadPool(workerEntry, jobs, { plugins }, store.runsDir);
  },
};
