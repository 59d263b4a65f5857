/**
 * Runs tasks in the calling thread. For scripts whose stage kinds were registered in
 * code (not in a plugin module a worker could load), and for `attrib unit`.
 */
import type { ExecutorFactory } from '../../executor.ts';
import { performTask } from '../../task.ts';

export const inlineExecutor: ExecutorFactory = {
  name: 'inline',
  description: 'run every task in the main thread (no parallel CPU work)',
  create: ({ registry, store }) => ({
    name: 'inline',
    run: (task, hooks) => performTask(registry, store, task, hooks),
    close: async () => {},
  }),
};
