/**
 * The executor list. A new executor is one new file here plus one line below (and,
 * for a distributed one, its worker command in pipeline/cli.ts).
 */
import { EXECUTORS, type ExecutorFactory } from '../executor.ts';
import type { Registry } from '../registry.ts';
import { bullmqExecutor } from './bullmq.ts';
import { inlineExecutor } from './inline.ts';
import { localExecutor } from './local.ts';
import { slurmExecutor } from './slurm.ts';

export const executorFactories: ExecutorFactory[] = [localExecutor, inlineExecutor, bullmqExecutor, slurmExecutor];

/** Built-in executors, then ones plugins registered under EXECUTORS. */
export function findExecutor(name: string, registry: Registry): ExecutorFactory | undefined {
  return executorFactories.find((f) => f.name === name) ?? registry.extensions(EXECUTORS).get(name);
}

export function executorNames(registry: Registry): string[] {
  return [...executorFactories.map((f) => f.name), ...registry.extensions(EXECUTORS).keys()];
}
