/**
 * The executable: the one place that joins the engine (pipeline/), the built-in stage
 * kinds (stages/) and the CLI extensions that know the ML (cli/). Config plugins are
 * loaded later by the engine itself.
 */
import { main } from '../pipeline/cli.ts';
import { Registry } from '../pipeline/registry.ts';
import { registerCommands } from '../cli/index.ts';
import { registerBuiltins } from '../stages/index.ts';
import { ATTRIB_VERSION } from '../pipeline/version.ts';
import { autoBackendGuess } from '../lib/native-backends.ts';

// `attrib plan ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const registry = new Registry();
registerBuiltins(registry);
registerCommands(registry);
const version = `attrib ${ATTRIB_VERSION}\nnode ${process.version}\nbackend auto: ${autoBackendGuess()}`;
process.exitCode = await main(process.argv.slice(2), { registry, workerEntry: new URL('./worker.js', import.meta.url), version });
