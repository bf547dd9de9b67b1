// The Azure Batch engine: plan into shards beside the destination, ship the bundle, submit one task
// per shard, watch, and merge the shards' results into one report.
import { randomBytes } from 'node:crypto';
import type { CostSummary, Report, Store, Summary } from '../interfaces.js';
import { resolveOptions, type ConvertOptions } from '../options.js';
import { EXIT_JOB_FAILED, EXIT_OK, EXIT_SOME_FAILED, JobError, UsageError } from '../errors.js';
import { openStore } from '../store/index.js';
import { isBlobLocation } from '../store/location.js';
import { VERSION } from '../version.js';
import { isBatchError, type BatchClient, type BatchPool } from './client.js';
import { connectBatch, batchAccountUrl, type BatchAccountOptions } from './connect.js';
import { deployBundle, plainUrl, type DeployedBundle } from './deploy.js';
import type { Bundle } from './bundle.js';
import { JobFolder, jobFolderLocation, type JobFile } from './job-folder.js';
import { mergeReport, summaryOf } from './merge-report.js';
import { coresOfVmSize, parseShardSize, planShards, type PoolShape } from './shards.js';
import { addJobOnce, addTasks, jobSpec, newSubmissionId, taskSpecs } from './submit.js';
import { watchJob, type FailedTask, type WatchProgress } from './watch.js';
import { DEFAULT_PRICES, type PriceTableData } from '../cost/prices.js';
import { nodeTimeCostSummary } from '../cost/estimate.js';

export interface BatchConvertOptions extends Omit<ConvertOptions, 'source' | 'destination' | 'onProgress' | 'onRecord'>, BatchAccountOptions {
  /** Both in Blob Storage: nodes cannot see this machine's folders. */
  source: string;
  destination: string;
  pool: string;
  /** Images per task, or `auto` (a few minutes of work per task). */
  shardSize?: number | string;
  /** One task per current node, task i taking images i, i+N, … (the original design, for comparison). */
  roundRobin?: boolean;
  /** Submit and return without watching. */
  wait?: boolean;
  /** Attempts after the first for a failed task (default 3). */
  maxTaskRetries?: number | string;
  /** ISO 8601 duration or minutes (default PT1H). */
  maxTaskTime?: string;
  jobId?: string;
  /** Resource id and client id of the pool's user-assigned identity (default: the pool's first one). */
  identityResourceId?: string;
  identityClientId?: string;
  /** Between looks at the job while watching (ms). */
  pollMs?: number;
  onProgress?: (p: WatchProgress) => void;
  /** Phases of submission, as one line each. */
  onStatus?: (line: string) => void;
  /** Use this build instead of building (tests build once). */
  bundle?: Bundle;
  /** Where the Node binary download and builds are cached. */
  cacheDir?: string;
  client?: BatchClient;
  /** Prices for the after-job cost (default: the built-in table). */
  prices?: PriceTableData;
}

export interface BatchConvertResult {
  jobId: string;
  jobFolder: string;
  /** The merged summary when the job was watched to its end; otherwise what was planned so far. */
  summary: Summary;
  report?: Report;
  /** False with `wait: false` or when watching was interrupted (the job goes on). */
  finished: boolean;
  failedTasks: FailedTask[];
  tasks: number;
  /** add-task-collection calls. */
  taskCalls: number;
  bundle?: DeployedBundle;
}

/**
 * The exit code of a finished Batch run, as the local engine's: 0 all done, 1 some images failed;
 * 3 when a task failed after its retries (a storage, credential or node failure, not a bad image).
 */
export function batchExitCode(result: Pick<BatchConvertResult, 'failedTasks' | 'summary'>): number {
  if (result.failedTasks.length) return EXIT_JOB_FAILED;
  return result.summary.counts.failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
}

/** A job id that sorts by time: `pixbatch-20260101-120000-ab12cd`. */
export function newJobId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `pixbatch-${t}-${randomBytes(3).toString('hex')}`;
}

export function poolShape(pool: BatchPool): PoolShape {
  const nodes = (pool.currentDedicatedNodes ?? 0) + (pool.currentLowPriorityNodes ?? 0) || (pool.targetDedicatedNodes ?? 0) + (pool.targetLowPriorityNodes ?? 0) || 1;
  return { nodes, cores: coresOfVmSize(pool.vmSize), slotsPerNode: pool.taskSlotsPerNode ?? 1 };
}

/** `PT1H`, or minutes given as a number. */
export function parseDuration(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  if (/^\d+$/.test(value)) return `PT${Number(value)}M`;
  if (/^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$/.test(value) && value !== 'P' && value !== 'PT') return value;
  throw new UsageError(`Expected an ISO 8601 duration such as PT30M, or minutes, for ${name} but received "${value}"`);
}

function retries(value: number | string | undefined): number {
  if (value === undefined || value === '') return 3;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > 100) {
    throw new UsageError(`Expected integer between -1 and 100 for max-task-retries but received ${JSON.stringify(value)} of type ${typeof value}`);
  }
  return n;
}

/**
 * Runs a conversion on an Azure Batch pool and, unless `wait` is false, watches it to the end.
 *
 * @example
 * const run = await convertOnBatch({
 *   source: 'https://acct.blob.core.windows.net/images',
 *   destination: 'https://acct.blob.core.windows.net/converted',
 *   pool: 'pixbatch', batchAccountUrl: 'https://acct.westeurope.batch.azure.com',
 * });
 * console.log(run.jobId, run.summary.counts);
 */
export async function convertOnBatch(options: BatchConvertOptions): Promise<BatchConvertResult> {
  for (const [what, loc] of [['source', options.source], ['destination', options.destination]] as const) {
    if (typeof loc !== 'string' || !isBlobLocation(loc)) {
      throw new UsageError(`Expected a Blob Storage location for the ${what} with --pool (nodes cannot read this machine's folders) but received "${String(loc)}"`);
    }
  }
  const { onProgress: _p, ...conversion } = options;
  const resolved = resolveOptions(conversion);
  if (resolved.dryRun) throw new UsageError('Expected --dry-run without --pool: a dry run plans on this machine, run it without --pool');
  const shardSize = parseShardSize(options.shardSize);
  const maxTaskRetryCount = retries(options.maxTaskRetries);
  const maxWallClockTime = parseDuration('max-task-time', options.maxTaskTime, 'PT1H');
  const status = options.onStatus ?? (() => {});
  const client = options.client ?? (await connectBatch(options));
  const accountUrl = options.client?.endpoint ?? batchAccountUrl(options);

  const { pool, identityResourceId, identityClientId } = await poolWithIdentity(client, options.pool, accountUrl, options);

  const jobId = options.jobId ?? newJobId();
  const sourceUrl = plainUrl(options.source);
  const destinationUrl = plainUrl(options.destination);
  const folderUrl = jobFolderLocation(destinationUrl, jobId);
  let source: Store | undefined;
  let destination: Store | undefined;
  let folder: JobFolder | undefined;
  try {
    source = await openStore(options.source, 'source');
    destination = await openStore(options.destination, 'destination');
    await source.prepare?.('source');
    await destination.prepare?.('destination');
    // This machine may hold only a SAS for the destination: open the job folder with it (nodes use their identity).
    const query = options.destination.includes('?') ? options.destination.slice(options.destination.indexOf('?')) : '';
    folder = new JobFolder(await openStore(folderUrl + query, 'destination'), folderUrl);
    // A reused job id must not overwrite another job's shards and results.
    const taken = await client.getJob(jobId).then(
      () => true,
      (err) => (isBatchError(err, 'JobNotFound') ? false : Promise.reject(err)),
    );
    if (taken || (await folder.jobWrittenMs()) !== undefined) {
      throw new UsageError(`Job ${jobId} already exists${taken ? ` in ${accountUrl}` : ` at ${folderUrl}`}; choose another --job-id`);
    }

    status(`Checking the bundle for pixbatch ${VERSION} in the scripts container…`);
    const bundle = await deployBundle({ location: options.destination, bundle: options.bundle, cacheDir: options.cacheDir, log: status });
    if (bundle.uploaded) status(`Uploaded the bundle (${(bundle.size / 1048576).toFixed(1)} MB) to ${bundle.url}`);

    status(`Planning ${sourceUrl} -> ${destinationUrl}…`);
    const shape = poolShape(pool);
    const planned = await planShards({ source, destination, folder, options: resolved, shardSize, roundRobin: options.roundRobin === true, pool: shape, signal: options.signal });
    const job: JobFile = {
      jobId,
      tool: { name: 'pixbatch', version: VERSION },
      createdAt: new Date().toISOString(),
      source: sourceUrl,
      destination: destinationUrl,
      jobFolder: folderUrl,
      spec: resolved.spec,
      options: {
        include: resolved.include,
        exclude: resolved.exclude,
        overwrite: resolved.overwrite,
        maxPixels: resolved.maxPixels,
        ...(options.concurrency !== undefined ? { concurrency: resolved.concurrency } : {}),
        ...(options.ioConcurrency !== undefined ? { ioConcurrency: resolved.ioConcurrency } : {}),
      },
      shards: { count: planned.shardItems.length, size: planned.size, items: planned.shardItems },
      planned: planned.planned,
      batch: { accountUrl, poolId: options.pool },
      bundle: { url: bundle.url, sha256: bundle.sha256, version: bundle.version },
    };
    await folder.writeJob(job);
    status(
      `Planned ${planned.planned.total} images: ${planned.planned.convert} to convert in ${job.shards.count} task(s)` +
        `${planned.size === 'round-robin' ? ' (round-robin, one per node)' : ` of up to ${planned.size}`}, ${planned.planned.skip} up to date, ${planned.planned.fail} refused`,
    );

    if (job.shards.count === 0) {
      const report = await mergeReport({ folder, job });
      return { jobId, jobFolder: folderUrl, summary: summaryOf(report), report, finished: true, failedTasks: [], tasks: 0, taskCalls: 0, bundle };
    }

    const spec = jobSpec({ jobId, poolId: options.pool, bundleUrl: bundle.url, bundleSha256: bundle.sha256, jobFolder: folderUrl, identityResourceId, submissionId: newSubmissionId() });
    await addJobOnce(client, spec, { abortSignal: options.signal }).catch((err) => {
      // Free a moment ago, so someone else took the id in between.
      if (isBatchError(err, 'JobExists')) throw new UsageError(`Job ${jobId} was created in ${accountUrl} by someone else while this run planned; choose another --job-id`);
      throw err;
    });
    const tasks = taskSpecs({ sha256: bundle.sha256, jobFolder: folderUrl, shards: job.shards.count, maxTaskRetryCount, maxWallClockTime, identityClientId });
    let added;
    try {
      added = await addTasks(client, jobId, tasks, { signal: options.signal });
      // Only now may the job end itself: with no tasks yet it would have counted as complete.
      await client.patchJob(jobId, { onAllTasksComplete: 'terminatejob' });
    } catch (err) {
      // A job with only some of its tasks would never end by itself: remove it; re-running plans again.
      await client.deleteJob(jobId).catch(() => {});
      throw err;
    }
    status(`Submitted job ${jobId}: ${added.added} task(s) in ${added.calls} call(s) to pool ${options.pool}`);

    const submitted = { jobId, jobFolder: folderUrl, tasks: tasks.length, taskCalls: added.calls, bundle };
    if (options.wait === false) {
      return { ...submitted, summary: plannedSummary(job), finished: false, failedTasks: [] };
    }
    const watched = await watchJob({ client, job, folder, pollMs: options.pollMs, onProgress: options.onProgress, signal: options.signal }).catch((err) => {
      if (options.signal?.aborted) return undefined;
      throw err;
    });
    if (!watched) return { ...submitted, summary: plannedSummary(job), finished: false, failedTasks: [] };
    const times = await jobTimes(client, jobId);
    const cost = await costAfterJob(client, options.pool, watched.taskSeconds, options.prices, pool);
    const report = await mergeReport({ folder, job, failedTasks: watched.failedTasks, startedAt: times.start, finishedAt: times.end, cost });
    return { ...submitted, summary: summaryOf(report), report, finished: true, failedTasks: watched.failedTasks };
  } finally {
    await source?.close?.();
    await destination?.close?.();
    await folder?.close();
  }
}

/**
 * Node time the job's tasks used and what it cost: one task slot per node, so a task's run time is
 * node time. Split between dedicated and spot in the pool's current proportion (a task does not say
 * which kind of node ran it). Undefined when the pool is gone and its VM size unknown.
 */
export async function costAfterJob(client: BatchClient, poolId: string, seconds: number, prices: PriceTableData = DEFAULT_PRICES, known?: BatchPool): Promise<CostSummary | undefined> {
  const pool = known ?? (await client.getPool(poolId).catch(() => undefined));
  if (!pool?.vmSize) return undefined;
  const dedicated = pool.currentDedicatedNodes ?? 0;
  const spot = pool.currentLowPriorityNodes ?? 0;
  const spotShare = dedicated + spot > 0 ? spot / (dedicated + spot) : 0;
  const cost = nodeTimeCostSummary({ dedicatedSeconds: seconds * (1 - spotShare), spotSeconds: seconds * spotShare }, pool.vmSize, prices);
  return { ...cost, notes: [`node time of ${pool.vmSize} tasks (${Math.round(spotShare * 100)}% spot)`, ...(cost.notes ?? [])] };
}

/**
 * The pool and the user-assigned identity its nodes use (given, or the pool's first). A pool without
 * one is refused: its nodes could not fetch the bundle or reach storage.
 */
export async function poolWithIdentity(
  client: BatchClient,
  poolId: string,
  accountUrl: string,
  given: { identityResourceId?: string; identityClientId?: string },
): Promise<{ pool: BatchPool; identityResourceId: string; identityClientId?: string }> {
  const pool = await client.getPool(poolId).catch((err) => {
    if (isBatchError(err, 'PoolNotFound')) throw new UsageError(`Pool ${poolId} does not exist in ${accountUrl}`);
    throw err;
  });
  const identity = pool.identity?.userAssignedIdentities?.[0];
  const identityResourceId = given.identityResourceId ?? identity?.resourceId;
  if (!identityResourceId) {
    throw new UsageError(
      `Pool ${poolId} has no user-assigned managed identity, so its nodes cannot fetch the bundle or reach storage; create the pool with one (pixbatch batch pool create) or give --identity-resource-id`,
    );
  }
  return { pool, identityResourceId, identityClientId: given.identityClientId ?? identity?.clientId };
}

/** What is known before any result: planned totals, planning-time skips and refusals. */
function plannedSummary(job: JobFile): Summary {
  return {
    counts: { total: job.planned.total, converted: 0, skipped: job.planned.skip, failed: job.planned.fail },
    bytesIn: 0,
    bytesOut: 0,
    seconds: 0,
    imagesPerSecond: 0,
    failures: [],
    source: job.source,
    destination: job.destination,
    spec: job.spec,
    jobId: job.jobId,
  };
}

async function jobTimes(client: BatchClient, jobId: string): Promise<{ start?: Date; end?: Date }> {
  try {
    const j = await client.getJob(jobId);
    const start = j.executionInfo?.startTime ?? j.creationTime;
    const end = j.executionInfo?.endTime;
    return { start: start ? new Date(start) : undefined, end: end ? new Date(end) : undefined };
  } catch {
    return {};
  }
}

export interface AttachOptions extends BatchAccountOptions {
  jobId: string;
  /** The job folder, or the destination it lies under; otherwise read from the job's metadata. */
  jobFolder?: string;
  destination?: string;
  client?: BatchClient;
  /** Prices for the after-job cost (default: the built-in table). */
  prices?: PriceTableData;
}

/** Finds a job's folder: from the flags, else from the metadata pixbatch put on the Batch job. */
export async function locateJob(options: AttachOptions): Promise<{ client: BatchClient; folder: JobFolder; job: JobFile }> {
  const client = options.client ?? (await connectBatch(options));
  const sas = options.destination?.includes('?') ? options.destination.slice(options.destination.indexOf('?')) : '';
  let location = options.jobFolder ?? (options.destination ? jobFolderLocation(plainUrl(options.destination), options.jobId) + sas : undefined);
  if (!location) {
    let batchJob;
    try {
      batchJob = await client.getJob(options.jobId);
    } catch (err) {
      if (isBatchError(err, 'JobNotFound')) {
        throw new UsageError(`Job ${options.jobId} is not in ${client.endpoint} any more; give --destination or --job-folder to read its folder`);
      }
      throw err;
    }
    location = batchJob.metadata?.find((m) => m.name === 'pixbatch-job-folder')?.value;
    if (!location) throw new UsageError(`Job ${options.jobId} was not submitted by pixbatch (no job folder in its metadata); give --job-folder`);
  }
  const folder = await JobFolder.open(location);
  const job = await folder.readJob();
  if (job.jobId !== options.jobId) throw new JobError(`The folder ${location} holds job ${job.jobId}, not ${options.jobId}`);
  return { client, folder, job };
}

/** Watches a submitted job (again) to its end and merges its report. */
export async function attachToJob(
  options: AttachOptions & { pollMs?: number; onProgress?: (p: WatchProgress) => void; signal?: AbortSignal },
): Promise<BatchConvertResult> {
  const { client, folder, job } = await locateJob(options);
  try {
    const base = { jobId: job.jobId, jobFolder: job.jobFolder, tasks: job.shards.count, taskCalls: 0 };
    if (job.shards.count === 0) {
      const report = await mergeReport({ folder, job });
      return { ...base, summary: summaryOf(report), report, finished: true, failedTasks: [] };
    }
    const watched = await watchJob({ client, job, folder, pollMs: options.pollMs, onProgress: options.onProgress, signal: options.signal }).catch((err) => {
      if (options.signal?.aborted) return undefined;
      throw err;
    });
    if (!watched) return { ...base, summary: plannedSummary(job), finished: false, failedTasks: [] };
    const times = await jobTimes(client, job.jobId);
    const poolId = job.batch?.poolId ?? (await client.getJob(job.jobId).then((j) => j.poolInfo?.poolId, () => undefined));
    const cost = poolId ? await costAfterJob(client, poolId, watched.taskSeconds, options.prices) : undefined;
    const report = await mergeReport({ folder, job, failedTasks: watched.failedTasks, startedAt: times.start, finishedAt: times.end, cost });
    return { ...base, summary: summaryOf(report), report, finished: true, failedTasks: watched.failedTasks };
  } finally {
    await folder.close();
  }
}

/** One look at a job without waiting: progress in images and tasks. */
export async function jobStatus(options: AttachOptions): Promise<{ job: JobFile; progress: WatchProgress; finished: boolean }> {
  const { client, folder, job } = await locateJob(options);
  try {
    const abort = new AbortController();
    let last: WatchProgress | undefined;
    // One round of the watch loop: stop it after its first report unless the job is already over.
    const result = await watchJob({
      client,
      job,
      folder,
      pollMs: 60_000,
      signal: abort.signal,
      onProgress: (p) => {
        last = p;
        if (!['completed', 'deleted', 'deleting'].includes(p.jobState) && p.tasks.completed < p.tasks.total) abort.abort(new Error('one look'));
      },
    }).catch((err) => {
      if (abort.signal.aborted) return undefined;
      throw err;
    });
    return { job, progress: result?.progress ?? last!, finished: result !== undefined };
  } finally {
    await folder.close();
  }
}

/** Ends a job: its running tasks are stopped; finished outputs stay. */
export async function cancelJob(options: AttachOptions): Promise<void> {
  const client = options.client ?? (await connectBatch(options));
  try {
    await client.terminateJob(options.jobId, { terminateReason: 'Cancelled with pixbatch batch cancel' });
  } catch (err) {
    if (isBatchError(err, 'JobCompleted')) return;
    throw err;
  }
}
