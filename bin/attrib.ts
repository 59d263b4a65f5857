/**
 * The executable: the one place that joins the engine (pipeline/), the built-in stage
 * kinds (stages/) and the CLI extensions that know the ML (cli/). Config plugins are
 * loaded later by the engine itself.
 *
 * Start-up time counts (issue 18): `attrib --version` is answered from two small modules
 * before the engine, the stage kinds, zod, yaml or commander are imported; everything
 * else is imported only once a command needs it.
 */
import { ATTRIB_VERSION } from '../pipeline/version.ts';
import { autoBackendGuess } from '../lib/native-backends.ts';

// `attrib plan ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const argv = process.argv.slice(2);
const version = `attrib ${ATTRIB_VERSION}\nnode ${process.version}\nbackend auto: ${autoBackendGuess()}`;

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // What commander prints for the program's version option, without loading it.
  process.stdout.write(`${version}\n`);
} else {
  // One after another, in the order the static imports had: the same module evaluation order.
  const { main } = await import('../pipeline/cli.ts');
  const { Registry } = await import('../pipeline/registry.ts');
  const { registerCommands } = await import('../cli/index.ts');
  const { registerBuiltins } = await import('../stages/index.ts');
  const registry = new Registry();
  registerBuiltins(registry);
  registerCommands(registry);
  process.exitCode = await main(argv, { registry, workerEntry: new URL('./worker.js', import.meta.url), version });
}
