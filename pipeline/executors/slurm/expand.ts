/**
 * `attrib slurm-expand HASH --spec JSON`: what a stage's count job runs. It counts the
 * units, submits the unfinished ones as job arrays (one per MaxArraySize block), and
 * makes the stage's finish job wait for them.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../../lib/io/atomic.ts';
import { openEntry, pluginOption } from '../../commands/entry.ts';
import { EXIT, UsageError, type CommandExtension, type CommandTools } from '../../commands/types.ts';
import type { Registry, StageHash } from '../../registry.ts';
import type { Store } from '../../store.ts';
import { countUnits, type TaskHooks } from '../../task.ts';
import { arrayName, command, type ExpandRecord, indexRanges, maxArraySize, queuedTasks, runsComment, sbatch, script, shellQuote } from './jobs.ts';
import { arraySpec, type ArraySpec } from './options.ts';

/**
 * Run by a stage's count job (`attrib slurm-expand`): counts the units, submits the
 * unfinished ones as job arrays (one per MaxArraySize block), and makes the stage's
 * finish job wait for them. Returns what it did, for the job's log.
 */
export async function expandStage(registry: Registry, store: Store, hash: StageHash, spec: ArraySpec, hooks: TaskHooks): Promise<string> {
  const count = await countUnits(registry, store, hash, hooks);
  const done = new Set(store.finishedUnits(hash));
  const todo = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
  const kind = store.readStage(hash)!.kind;
  const record: ExpandRecord = { units: count, doneBefore: done.size, arrays: [] };
  const max = await maxArraySize();
  const blocks = new Map<number, number[]>();
  for (const i of todo) {
    const offset = Math.floor(i / max) * max;
    let block = blocks.get(offset);
    if (!block) blocks.set(offset, (block = []));
    block.push(i - offset);
  }
  for (const [offset, tasks] of blocks) {
    const attrib = [...spec.command, 'unit', hash];
    const tail = ['--runs', store.runsDir, ...spec.plugins.flatMap((p) => ['--plugin', p])];
    const n = spec.attempts;
    const body = [
      `unit=$((SLURM_ARRAY_TASK_ID + ${offset}))`,
      'attempt=1',
      `until ${attrib.map(shellQuote).join(' ')} "$unit" ${tail.map(shellQuote).join(' ')}; do`,
      `  [ "$attempt" -ge ${n} ] && exit 1`,
      '  attempt=$((attempt + 1))',
      `  echo "attrib: unit $unit: attempt $attempt of ${n}" >&2`,
      'done',
    ];
    const id = await sbatch(
      [
        `--job-name=${arrayName(hash, offset)}`,
        `--comment=${runsComment(store.runsDir)}`,
        `--array=${indexRanges(tasks)}${spec.limit ? `%${spec.limit}` : ''}`,
        `--output=${join(spec.logs, '%A_%a.out')}`,
        `--chdir=${store.runsDir}`,
        ...spec.sbatch,
      ],
      script(spec.logs, `array-${offset}`, `units of store entry ${hash} (${kind}), one per array task (unit = task id + ${offset}), each tried up to ${n} times`, spec.setup, body),
    );
    record.arrays.push({ id, tasks: tasks.length });
  }
  const arrays = record.arrays.map((a) => a.id);
  if (arrays.length) {
    const finish = (await queuedTasks(store.runsDir)).filter((j) => j.hash === hash && j.role === 'finish');
    if (finish.length === 0) hooks.log(`no finish job of ${hash.slice(0, 12)} is queued: run the coordinator again once the array is done`, 'executor');
    for (const f of finish) {
      const r = await command('scontrol', ['update', `JobId=${f.arrayJobId}`, `Dependency=afterok:${arrays.join(':')}`], 60_000);
      if (r.code !== 0) throw new Error(`scontrol update JobId=${f.arrayJobId} failed: ${(r.stderr || r.stdout).trim()}`);
    }
  }
  // What this count job saw and submitted, for the coordinator: by the time it polls, a
  // task may have finished and left squeue, so neither the store nor squeue tells it.
  const jobId = process.env.SLURM_JOB_ID;
  if (jobId) writeFileAtomic(join(spec.logs, `count-${jobId}.json`), JSON.stringify(record));
  return `${count} unit(s), ${todo.length} to run${arrays.length ? `: SLURM job array ${arrays.join(', ')}${spec.limit ? `, at most ${spec.limit} at once` : ''}` : ''}`;
}

export const slurmExpandCommand: CommandExtension = {
  define(program: Command, tools: CommandTools) {
    program
      .command('slurm-expand')
      .description("count a stage's units and submit them as a SLURM job array that its finish job waits for (what the slurm executor's count jobs run)")
      .argument('<hash>', 'the stage instance hash (runs/store/<hash>)')
      .requiredOption('--spec <json>', 'the array to submit (written by the coordinator into the job script)')
      .addOption(tools.runsOption())
      .addOption(pluginOption())
      .action(async (hash: string, o: { runs: string; plugin?: string[]; spec: string }) => {
        let spec;
        try {
          spec = arraySpec.parse(JSON.parse(o.spec));
        } catch (e) {
          throw new UsageError([{ file: '--spec', message: e instanceof Error ? e.message.split('\n')[0]! : String(e) }]);
        }
        const entry = await openEntry(tools.registry, hash, o);
        try {
          tools.print(`expand of ${hash.slice(0, 12)}: ${await expandStage(tools.registry, entry.store, entry.hash, spec, { log: (m) => tools.warn(`[expand] ${m}`), progress: () => {} })}`);
        } catch (e) {
          tools.warn(`expand of ${hash.slice(0, 12)} failed: ${e instanceof Error ? e.message : String(e)}`);
          tools.setExitCode(EXIT.failed);
        }
      });
  },
};
