/**
 * The worker-thread side of the local executor. bin/worker.ts calls serveWorker with a
 * function that registers the built-in kinds; the plugins come in workerData. Each
 * message is one task; logs and progress go back tagged with the task's id.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadPlugins } from '../../plugins.ts';
import { Registry } from '../../registry.ts';
import { Store } from '../../store.ts';
import { performTask, type Task, type TaskResult } from '../../task.ts';

export interface WorkerSetup {
  plugins: string[];
}

export interface ToWorker {
  id: number;
  task: Task;
  runsDir: string;
}

export type FromWorker =
  | { id: number; type: 'log'; message: string }
  | { id: number; type: 'progress'; fraction: number }
  | { id: number; type: 'done'; result: TaskResult }
  | { id: number; type: 'failed'; message: string; stack?: string };

export function serveWorker(registerBuiltins: (registry: Registry) => void | Promise<void>): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorker must run in a worker thread');
  const setup = workerData as WorkerSetup;
  const ready = (async () => {
    const registry = new Registry();
    await registerBuiltins(registry);
    const failures = await loadPlugins(registry, setup.plugins);
    if (failures.length) throw new Error(failures.map((f) => `plugin ${f.plugin}: ${f.message}`).join('; '));
    return registry;
  })();
  ready.catch(() => {}); // reported with the first task instead

  port.on('message', async ({ id, task, runsDir }: ToWorker) => {
    const send = (msg: FromWorker) => port.postMessage(msg);
    let last = 0;
    try {
      const registry = await ready;
      const result = await performTask(registry, new Store(runsDir), task, {
        log: (message) => send({ id, type: 'log', message }),
        progress: (fraction) => {
          // At most a few progress messages a second: the main thread only draws them.
          const now = Date.now();
          if (now - last < 200 && fraction < 1) return;
          last = now;
          send({ id, type: 'progress', fraction });
        },
      });
      send({ id, type: 'done', result });
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      send({ id, type: 'failed', message: error.message, stack: error.stack });
    }
  });
}
