// `pixbatch worker` without loading the rest of the CLI: what the bundle runs for each Batch task.
import { Command, CommanderError } from 'commander';
import { exitCodeFor, EXIT_USAGE } from '../errors.js';
import { registerWorker } from '../cli/worker.js';
import { usageLine, withUsageErrors } from '../cli/usage-line.js';

/** Runs `worker ARGS…` and returns the exit code: 0 done (bad images included), 2 bad usage, 3 storage or credential failure. */
export async function runWorkerCli(args: string[]): Promise<number> {
  const program = withUsageErrors(new Command('pixbatch'));
  registerWorker(program);
  try {
    await program.parseAsync(['worker', ...args], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code !== 'commander.helpDisplayed' && err.code !== 'commander.help') process.stderr.write(`pixbatch worker: ${usageLine(err, program, ['', '', 'worker', ...args])}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`pixbatch worker: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof Error && err.stack && process.env.PIXBATCH_DEBUG) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err);
  }
}
