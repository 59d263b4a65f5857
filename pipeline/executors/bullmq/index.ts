/**
 * `--executor bullmq --redis URL`: units on a Redis queue (executor.ts) that `attrib
 * worker` processes serve (worker.ts) from any machines sharing the runs folder; `attrib
 * status --redis URL` counts the units queued and running there (status.ts).
 */
import { availableParallelism } from 'node:os';
import { ExecutorSetupError, type ExecutorEnv, type ExecutorFactory } from '../../executor.ts';
import { localExecutor } from '../local/index.ts';
import { BullmqExecutor, bullmqOptions, type BullmqOptions } from './executor.ts';
import { checkRedisUrl, redisUrl } from './redis.ts';
import { bullmqStatus } from './status.ts';
import { workerCommand } from './worker.ts';

export { BullmqExecutor, bullmqOptions, type BullmqOptions } from './executor.ts';

export const bullmqExecutor: ExecutorFactory<BullmqOptions> = {
  name: 'bullmq',
  description: 'units go on a Redis queue (bullmq) that `attrib worker` processes serve from any machines sharing the runs folder; needs --redis URL',
  section: bullmqOptions,
  create(env: ExecutorEnv<BullmqOptions>) {
    const url = redisUrl(env.cli?.redis);
    if (!url) throw new ExecutorSetupError('the bullmq executor needs --redis URL (or ATTRIB_REDIS_URL in the environment)');
    const problem = checkRedisUrl(url);
    if (problem) throw new ExecutorSetupError(`--redis: ${problem}`);
    // count, run() and combine() here: --jobs threads at most, and no more than this machine's cores.
    return new BullmqExecutor(env.store, url, env.options, localExecutor.create({ ...env, jobs: Math.min(env.jobs, availableParallelism()) }));
  },
  commands: [workerCommand],
  status: bullmqStatus,
};
