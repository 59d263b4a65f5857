/**
 * `--executor slurm`: the DAG as SLURM jobs joined by afterok dependencies, each stage's
 * units a job array (executor.ts). Its pieces: the config block and sbatch arguments
 * (options.ts), job names, squeue and sbatch (jobs.ts), what a count job runs
 * (`attrib slurm-expand`, expand.ts; finish jobs and array tasks run the engine's own
 * `attrib unit`), and what `attrib status` asks squeue (status.ts).
 */
import { fileURLToPath } from 'node:url';
import { ExecutorSetupError, type ExecutorEnv, type ExecutorFactory } from '../../executor.ts';
import { SlurmExecutor } from './executor.ts';
import { slurmExpandCommand } from './expand.ts';
import { onPath } from './jobs.ts';
import { slurmOptions, type SlurmOptions } from './options.ts';
import { slurmStatus } from './status.ts';

export { SlurmExecutor } from './executor.ts';
export { expandStage } from './expand.ts';
export { sbatchResourceArgs, slurmOptions, slurmResources, type SlurmOptions, type SlurmResources } from './options.ts';

export const slurmExecutor: ExecutorFactory<SlurmOptions> = {
  name: 'slurm',
  description: 'the DAG becomes SLURM jobs joined by afterok dependencies; each stage\'s units a job array (sbatch --array, %--jobs) running `attrib unit` on nodes that share the runs folder',
  section: slurmOptions,
  create(env: ExecutorEnv<SlurmOptions>) {
    for (const cmd of ['sbatch', 'squeue', 'scontrol', 'scancel']) {
      if (!onPath(cmd)) throw new ExecutorSetupError(`the slurm executor needs ${cmd} on PATH (run attrib on a SLURM login node)`);
    }
    let bin: string[] | undefined;
    if (env.workerEntry) bin = [process.execPath, fileURLToPath(new URL('attrib.js', env.workerEntry))];
    if (!env.options.command && !bin) throw new ExecutorSetupError('the slurm executor needs executor.slurm.command (the attrib command on the nodes)');
    return new SlurmExecutor(env.store, env.options, env.plugins, env.cli?.jobs, bin ?? []);
  },
  commands: [slurmExpandCommand],
  status: slurmStatus,
};
