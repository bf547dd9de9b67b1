import { Command, Option } from 'commander';
import type { Summary } from '../interfaces.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { writeReport } from '../report/summary.js';
import { conversionOptionsFrom, type ConvertFlags } from './convert.js';
import { printSummary } from './summary-text.js';
import type { BatchConvertResult } from '../batch/engine.js';
import type { WatchProgress } from '../batch/watch.js';
import { formatProgress } from '../batch/progress-text.js';
import type { PriceTableData } from '../cost/prices.js';
import type { EmailSettings } from '../report/email.js';

export interface BatchFlags {
  pool?: string;
  batchAccountUrl?: string;
  shardSize?: string;
  roundRobin?: boolean;
  wait?: boolean;
  maxTaskRetries?: string;
  maxTaskTime?: string;
  jobId?: string;
  identityResourceId?: string;
  identityClientId?: string;
  pollInterval?: string;
}

/** The flags `pixbatch convert` takes to run on a Batch pool instead of this machine. */
export function addBatchOptions(cmd: Command): Command {
  return cmd
    .option('--pool <id>', 'run on this Azure Batch pool instead of this machine (both locations in Blob Storage)')
    .option('--batch-account-url <url>', 'Batch account endpoint, https://ACCOUNT.REGION.batch.azure.com (AZURE_BATCH_ENDPOINT)')
    .option('--shard-size <n|auto>', 'images per Batch task; auto aims at a few minutes of work per task', 'auto')
    .option('--round-robin', "one task per node, task i taking images i, i+N, … (the original scripts' assignment)")
    .option('--no-wait', 'submit the job and return; re-attach with pixbatch batch status JOB_ID --wait')
    .option('--max-task-retries <n>', 'retries of a failed task (storage or node trouble; -1 forever)', '3')
    .option('--max-task-time <duration>', 'longest one task may run, ISO 8601 (PT1H) or minutes', 'PT1H')
    .option('--job-id <id>', 'Batch job id (default: pixbatch-DATE-TIME-RANDOM)')
    .option('--identity-resource-id <id>', "user-assigned identity that downloads the bundle (default: the pool's)")
    .option('--identity-client-id <id>', "client id the workers sign in with (default: the pool's identity)")
    .addOption(new Option('--poll-interval <seconds>', 'seconds between looks at the job').default('5').hideHelp());
}

function pollMs(flags: { pollInterval?: string }): number {
  const s = Number(flags.pollInterval ?? '5');
  if (!Number.isFinite(s) || s <= 0) throw new UsageError(`Expected a number of seconds above 0 for poll-interval but received "${flags.pollInterval}"`);
  return s * 1000;
}

/** Progress on stderr: one rewritten line on a terminal, otherwise a line when something changed (at most every 10 s). */
function progressPrinter(quiet: boolean): { update(p: WatchProgress): void; stop(): void } {
  if (quiet) return { update() {}, stop() {} };
  const tty = Boolean(process.stderr.isTTY);
  let lastLine = '';
  let lastAt = 0;
  let drawn = false;
  return {
    update(p) {
      const line = formatProgress(p);
      if (tty) {
        process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 160) - 1)}\x1b[K`);
        drawn = true;
      } else if (line !== lastLine && Date.now() - lastAt >= 10_000) {
        process.stderr.write(`${line}\n`);
        lastAt = Date.now();
      }
      lastLine = line;
    },
    stop() {
      if (drawn) process.stderr.write('\n');
    },
  };
}

function attachHint(jobId: string, accountUrl: string | undefined): string {
  return `pixbatch batch status ${jobId} --wait${accountUrl ? ` --batch-account-url ${accountUrl}` : ''}`;
}

/** Prints the end of a Batch run like the local engine does, plus failed tasks with their stderr. Returns the exit code. */
async function finish(
  result: BatchConvertResult,
  flags: { json?: boolean; quiet?: boolean; report?: string; htmlReport?: string },
  told: { notify: string[]; email?: EmailSettings } = { notify: [] },
): Promise<number> {
  const summary: Summary = result.summary;
  const shown = result.failedTasks.filter((t) => t.stderrTail !== '').slice(0, 20);
  if (result.failedTasks.length > shown.length) {
    process.stderr.write(`${result.failedTasks.length} task(s) failed: ${result.failedTasks.map((t) => t.id).slice(0, 50).join(', ')}${result.failedTasks.length > 50 ? ', …' : ''}\n`);
  }
  for (const t of shown) {
    process.stderr.write(
      `task ${t.id} failed${t.exitCode !== undefined ? ` with exit code ${t.exitCode}` : ''}${t.failure ? ` (${t.failure})` : ''} after ${t.retries} retr${t.retries === 1 ? 'y' : 'ies'}; end of its stderr:\n`,
    );
    process.stderr.write(`${t.stderrTail.split('\n').slice(-20).map((l) => `  | ${l}`).join('\n')}\n`);
  }
  if (flags.report && result.report) await writeReport(flags.report, result.report);
  if (flags.htmlReport && result.report) {
    const { writeHtmlReport } = await import('../report/html.js');
    await writeHtmlReport(flags.htmlReport, result.report);
  }
  if (told.notify.length) {
    const { notifyAll } = await import('../report/notify.js');
    const hints = { report: [`report: ${result.jobFolder}/report.json (and report.html)`, `summary again: pixbatch batch report ${result.jobId}`] };
    await notifyAll(told.notify, summary, { email: told.email, hints, ...(result.failedTasks.length ? { outcome: 'failed' as const } : {}) });
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (!flags.quiet) {
    printSummary(summary, flags.json ? process.stderr : process.stdout);
    process.stderr.write(`job ${result.jobId}: report ${result.jobFolder}/report.json (and report.html)\n`);
  }
  const { batchExitCode } = await import('../batch/engine.js');
  return batchExitCode(result);
}

/** Runs SIGINT as "detach": the job goes on, and the command says how to re-attach. */
function detachOnSigint(jobIdRef: () => string | undefined, accountUrl: () => string | undefined): { signal: AbortSignal; detached: () => boolean; dispose(): void } {
  const abort = new AbortController();
  const onSigint = () => {
    abort.abort(new Error('detached'));
    const id = jobIdRef();
    process.stderr.write(
      id
        ? `\nDetached from job ${id}; it keeps running on the pool. Re-attach with:\n  ${attachHint(id, accountUrl())}\n`
        : '\nInterrupted before the job was submitted.\n',
    );
  };
  process.once('SIGINT', onSigint);
  return { signal: abort.signal, detached: () => abort.signal.aborted, dispose: () => process.off('SIGINT', onSigint) };
}

/**
 * The Batch account and pool identity from flags, else the environment, else `pixbatch.config.json`
 * (read only when flags and environment do not name the account).
 */
async function accountDefaults(
  flags: BatchFlags & { config?: string },
): Promise<{ url?: string; name?: string; identityResourceId?: string; identityClientId?: string; prices: PriceTableData }> {
  const given = { url: flags.batchAccountUrl, identityResourceId: flags.identityResourceId, identityClientId: flags.identityClientId };
  const { loadConfig } = await import('../config/index.js');
  if (given.url || process.env.AZURE_BATCH_ENDPOINT || process.env.PIXBATCH_BATCH_URL) {
    // The account is given: only the price table (for the after-job cost) comes from the config file.
    const { prices } = await loadConfig({ flags: { config: flags.config }, env: { PIXBATCH_CONFIG: process.env.PIXBATCH_CONFIG } });
    return { ...given, prices };
  }
  const config = await loadConfig({ flags: { config: flags.config } });
  return {
    url: config.batch.accountUrl,
    name: config.batch.accountName,
    identityResourceId: given.identityResourceId ?? config.identity.resourceId,
    identityClientId: given.identityClientId ?? config.identity.clientId,
    prices: config.prices,
  };
}

/**
 * `pixbatch convert SRC DST --pool POOL`: the conversion on Azure Batch. Returns the exit code.
 * `convert` calls this when `--pool` is given.
 */
export async function runConvertOnPool(source: string, destination: string, flags: ConvertFlags & BatchFlags & { config?: string }): Promise<number> {
  const { convertOnBatch } = await import('../batch/engine.js');
  const told = await (await import('../config/notify.js')).notifySettings(flags);
  (await import('../report/notify.js')).checkNotifyTargets(told.notify, told.email);
  const account = await accountDefaults(flags);
  const quiet = flags.quiet === true;
  const progress = progressPrinter(quiet);
  let jobId: string | undefined;
  const sig = detachOnSigint(() => jobId, () => flags.batchAccountUrl);
  try {
    const result = await convertOnBatch({
      ...conversionOptionsFrom(flags),
      source,
      destination,
      pool: flags.pool!,
      batchAccountUrl: account.url,
      batchAccountName: account.name,
      shardSize: flags.shardSize,
      roundRobin: flags.roundRobin,
      wait: flags.wait,
      maxTaskRetries: flags.maxTaskRetries,
      maxTaskTime: flags.maxTaskTime,
      jobId: flags.jobId,
      identityResourceId: account.identityResourceId,
      identityClientId: account.identityClientId,
      prices: account.prices,
      pollMs: pollMs(flags),
      signal: sig.signal,
      onStatus: (line) => {
        const m = /^Submitted job ([^\s:]+)/.exec(line);
        if (m) jobId = m[1];
        if (!quiet) process.stderr.write(`${line}\n`);
      },
      onProgress: (p) => {
        jobId = p.jobId;
        progress.update(p);
      },
    });
    progress.stop();
    if (!result.finished) {
      if (!sig.detached() && !quiet) process.stderr.write(`Job ${result.jobId} runs on. Follow it with:\n  ${attachHint(result.jobId, flags.batchAccountUrl)}\n`);
      if (flags.json) process.stdout.write(`${JSON.stringify(result.summary)}\n`);
      return EXIT_OK;
    }
    return await finish(result, flags, told);
  } finally {
    progress.stop();
    sig.dispose();
  }
}

async function attachAccount(flags: AttachFlags): Promise<{ batchAccountUrl?: string; batchAccountName?: string; prices: PriceTableData }> {
  const account = await accountDefaults(flags);
  return { batchAccountUrl: account.url, batchAccountName: account.name, prices: account.prices };
}

interface AttachFlags {
  batchAccountUrl?: string;
  config?: string;
  jobFolder?: string;
  destination?: string;
  wait?: boolean;
  json?: boolean;
  quiet?: boolean;
  report?: string;
  pollInterval?: string;
}

function addAttachOptions(cmd: Command): Command {
  return cmd
    .argument('<jobId>', 'the Batch job id pixbatch printed when it submitted the job')
    .option('--batch-account-url <url>', 'Batch account endpoint (AZURE_BATCH_ENDPOINT, else batch.accountUrl in the config file)')
    .option('--config <file>', 'config file (default: pixbatch.config.json, or PIXBATCH_CONFIG)')
    .option('--destination <location>', "the job's destination, when the Batch job itself is gone")
    .option('--job-folder <location>', "the job's folder (DESTINATION/.pixbatch/jobs/JOB_ID), when the Batch job itself is gone");
}

/** Registers `batch deploy|status|report|cancel` (and the `batch` command the pool commands hang under). */
export function registerBatch(program: Command): void {
  const batch =
    program.commands.find((c) => c.name() === 'batch') ??
    program.command('batch').description('run conversions on an Azure Batch pool and manage the pool');

  batch
    .command('deploy')
    .description('build the linux-x64 bundle (Node, pixbatch, sharp) and upload it to the scripts container, unless the same bundle is there')
    .argument('[location]', 'any Blob Storage location in the account (for example the destination); default: storage.account of the config file, else the account in AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_ACCOUNT')
    .option('--config <file>', 'config file (default: pixbatch.config.json, or PIXBATCH_CONFIG)')
    .option('--json', 'print the result as JSON')
    .action(async (location: string | undefined, flags: { json?: boolean; config?: string }) => {
      const { deployBundle } = await import('../batch/deploy.js');
      if (!location) {
        const { loadConfig } = await import('../config/index.js');
        const config = await loadConfig({ flags: { config: flags.config } });
        location = config.storage.account ? `https://${config.storage.account}.blob.core.windows.net/${config.storage.outputContainer}` : 'az://scripts';
      }
      const deployed = await deployBundle({ location, force: true, log: (l) => process.stderr.write(`${l}\n`) });
      if (flags.json) process.stdout.write(`${JSON.stringify(deployed)}\n`);
      else process.stdout.write(`${deployed.uploaded ? 'uploaded' : 'already up to date:'} ${deployed.url} (sha256 ${deployed.sha256.slice(0, 16)}…, ${(deployed.size / 1048576).toFixed(1)} MB)\n`);
    });

  addAttachOptions(batch.command('status').description("show a job's progress in images and tasks; --wait follows it to the end like convert --pool"))
    .option('--wait', 'follow the job to its end, then print the summary and write report.json')
    .option('--json', 'print JSON')
    .option('--report <file>', 'with --wait: also write the report here')
    .option('-q, --quiet', 'no progress')
    .addOption(new Option('--poll-interval <seconds>', 'seconds between looks at the job').default('5').hideHelp())
    .action(async (jobId: string, flags: AttachFlags) => {
      const engine = await import('../batch/engine.js');
      if (flags.wait) {
        const progress = progressPrinter(flags.quiet === true);
        const sig = detachOnSigint(() => jobId, () => flags.batchAccountUrl);
        try {
          const result = await engine.attachToJob({ ...flags, ...(await attachAccount(flags)), jobId, pollMs: pollMs(flags), onProgress: (p) => progress.update(p), signal: sig.signal });
          progress.stop();
          process.exitCode = result.finished ? await finish(result, flags) : EXIT_OK;
        } finally {
          progress.stop();
          sig.dispose();
        }
        return;
      }
      const status = await engine.jobStatus({ ...flags, ...(await attachAccount(flags)), jobId });
      if (flags.json) process.stdout.write(`${JSON.stringify({ ...status.progress, finished: status.finished, jobFolder: status.job.jobFolder })}\n`);
      else process.stdout.write(`${formatProgress(status.progress)}${status.finished ? ' | finished' : ''}\n`);
    });

  addAttachOptions(batch.command('report').description("merge a finished job's results into report.json and print its summary"))
    .option('--json', 'print the summary as JSON')
    .option('--report <file>', 'also write the report here')
    .option('-q, --quiet', 'no summary text')
    .action(async (jobId: string, flags: AttachFlags) => {
      const engine = await import('../batch/engine.js');
      const account = await attachAccount(flags);
      const status = await engine.jobStatus({ ...flags, ...account, jobId });
      if (!status.finished) {
        throw new UsageError(`Job ${jobId} is still running (${status.progress.images.done}/${status.progress.images.total} images); follow it with: ${attachHint(jobId, flags.batchAccountUrl)}`);
      }
      const result = await engine.attachToJob({ ...flags, ...account, jobId, pollMs: 1000 });
      process.exitCode = await finish(result, flags);
    });

  addAttachOptions(batch.command('cancel').description('end a job: running tasks stop, finished outputs stay; re-running the same convert does the rest'))
    .action(async (jobId: string, flags: AttachFlags) => {
      const { cancelJob } = await import('../batch/engine.js');
      await cancelJob({ ...flags, ...(await attachAccount(flags)), jobId });
      process.stderr.write(`job ${jobId} is ending; see what was done with: pixbatch batch report ${jobId}\n`);
    });
}
