import { Command, CommanderError } from 'commander';
import { UsageError, exitCodeFor } from '../errors.js';
import { registerConvert } from './convert.js';
import { registerGenerate } from './generate.js';
import { registerReport } from './report.js';
import { registerBatch } from './batch.js';
import { registerWorker } from './worker.js';
import { registerInit } from './init.js';
import { registerPool } from './pool.js';
import { registerSchedule } from './schedule.js';
import { registerFunctions } from './functions.js';
import { VERSION } from '../version.js';
import { redact } from '../store/redact.js';

/** Builds the `pixbatch` command tree. Each command lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const program = new Command('pixbatch')
    .description('Convert images in bulk between local folders and Azure Blob Storage, here or on an Azure Batch pool.')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Commander's own usage errors become one line on stderr, exit code 2.
      outputError: (str, write) => write(str.split('\n')[0] + '\n'),
    });
  registerConvert(program);
  registerGenerate(program);
  registerReport(program);
  registerBatch(program);
  registerWorker(program);
  registerInit(program);
  // `batch pool ...` hangs under the `batch` command registered above.
  registerPool(program);
  // `batch schedule ...` too; scheduled jobs' manager tasks run `batch schedule run-job` from the bundle.
  registerSchedule(program);
  registerFunctions(program);
  return program;
}

/** Runs the CLI and returns the process exit code (0 done, 1 some images failed, 2 bad usage, 3 job/service failure). */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    const code = exitCodeFor(err);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`pixbatch: ${redact(message)}\n`);
    if (process.env.PIXBATCH_DEBUG && err instanceof Error && !(err instanceof UsageError)) process.stderr.write(`${redact(err.stack ?? '')}\n`);
    return code;
  }
}
