import { Command } from 'commander';
import { invalidOption } from '../errors.js';

/**
 * Registers the hidden `worker` command that each Batch task runs on one shard. A bad image is a
 * result; a storage or credential failure exits non-zero so Batch retries the task.
 */
export function registerWorker(program: Command): void {
  program
    .command('worker', { hidden: true })
    .description('convert one shard of a Batch job (run by the job\'s tasks)')
    .requiredOption('--job-folder <location>', 'the job folder: DESTINATION/.pixbatch/jobs/JOB_ID')
    .requiredOption('--shard <n>', 'shard number')
    .option('-c, --concurrency <n>', 'images converting at once (default: cores + 1)')
    .action(async (flags: { jobFolder: string; shard: string; concurrency?: string }) => {
      if (!/^\d+$/.test(flags.shard)) throw invalidOption('shard', 'integer >= 0', flags.shard);
      const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw invalidOption('concurrency', 'integer >= 1', flags.concurrency);
      const { runWorker } = await import('../batch/worker.js');
      const started = Date.now();
      const outcome = await runWorker({
        jobFolder: flags.jobFolder,
        shard: Number(flags.shard),
        concurrency,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(
        `shard ${flags.shard}: converted ${outcome.converted}, skipped ${outcome.skipped}, failed ${outcome.failed} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });
}
