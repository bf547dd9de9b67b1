// `pixbatch generate --pool`: the same corpus written by Azure Batch tasks, each a range of image
// indices. Every file depends only on the seed and its index, so the corpus is byte-identical to one
// written by a single machine, however it is cut.
import { UsageError } from '../errors.js';
import { isBatchError, type BatchClient } from '../batch/client.js';
import { connectBatch, batchAccountUrl, type BatchAccountOptions } from '../batch/connect.js';
import { deployBundle, plainUrl } from '../batch/deploy.js';
import type { Bundle } from '../batch/bundle.js';
import { newJobId, parseDuration, poolShape, poolWithIdentity } from '../batch/engine.js';
import { addJobOnce, addTasks, bundleCommand, jobSpec, META_SUBMISSION, newSubmissionId, taskSpecs } from '../batch/submit.js';
import { openStore } from '../store/index.js';
import { isBlobLocation } from '../store/location.js';
import { VERSION } from '../version.js';
import { resolveGenerateOptions, type GenerateOptions } from './generate.js';

export interface GenerateOnBatchOptions extends Omit<GenerateOptions, 'range' | 'onProgress' | 'concurrency' | 'ioConcurrency'>, BatchAccountOptions {
  pool: string;
  /** Files per task; default: about four tasks per task slot of the pool. */
  shardSize?: number | string;
  jobId?: string;
  /** Submit and return without watching. */
  wait?: boolean;
  /** Attempts after the first for a failed task (default 3). */
  maxTaskRetries?: number;
  /** ISO 8601 duration or minutes (default PT1H). */
  maxTaskTime?: string;
  identityResourceId?: string;
  identityClientId?: string;
  pollMs?: number;
  onStatus?: (line: string) => void;
  onProgress?: (p: { tasksCompleted: number; tasks: number }) => void;
  /** Use this build instead of building (tests build once). */
  bundle?: Bundle;
  cacheDir?: string;
  client?: BatchClient;
}

export interface GenerateOnBatchResult {
  jobId: string;
  tasks: number;
  /** Files all tasks write together (images and broken files). */
  files: number;
  /** False with `wait: false` or when watching was interrupted (the job goes on). */
  finished: boolean;
  /** Tasks that failed after their retries. */
  failedTasks: string[];
}

const MAX_SHARD = 1_000_000;

/**
 * Writes the corpus `generate()` would write, as Batch tasks on `pool`, into a Blob Storage location.
 *
 * @example
 * const run = await generateOnBatch({ destination: 'https://acct.blob.core.windows.net/images', count: 1_000_000, pool: 'pixbatch' });
 * if (run.failedTasks.length) console.error(run.failedTasks);
 */
export async function generateOnBatch(options: GenerateOnBatchOptions): Promise<GenerateOnBatchResult> {
  if (typeof options.destination !== 'string' || !isBlobLocation(options.destination)) {
    throw new UsageError(`Expected a Blob Storage location for the destination with --pool (nodes cannot write this machine's folders) but received "${String(options.destination)}"`);
  }
  const { onProgress: _progress, ...generation } = options;
  const o = resolveGenerateOptions(generation);
  const files = o.count + o.corrupt;
  const maxTaskTime = parseDuration('max-task-time', options.maxTaskTime, 'PT1H');
  const status = options.onStatus ?? (() => {});
  const client = options.client ?? (await connectBatch(options));
  const accountUrl = options.client?.endpoint ?? batchAccountUrl(options);
  const { pool, identityResourceId, identityClientId } = await poolWithIdentity(client, options.pool, accountUrl, options);
  const shape = poolShape(pool);
  const size = shardSizeOf(options.shardSize, files, shape.nodes * shape.slotsPerNode);
  const tasks = files === 0 ? 0 : Math.ceil(files / size);
  const jobId = options.jobId ?? newJobId();
  const destinationUrl = plainUrl(options.destination);

  // The container is made (and the credential checked) here, not by every task.
  const store = await openStore(options.destination, 'destination');
  try {
    await store.prepare?.('destination');
  } finally {
    await store.close?.();
  }
  if (tasks === 0) return { jobId, tasks, files, finished: true, failedTasks: [] };

  status(`Checking the bundle for pixbatch ${VERSION} in the scripts container…`);
  const bundle = await deployBundle({ location: options.destination, bundle: options.bundle, cacheDir: options.cacheDir, log: status });
  const args = (start: number, end: number) => [
    'generate', destinationUrl, '--count', String(o.count), '--corrupt', String(o.corrupt), '--size', `${o.width}x${o.height}`,
    '--seed', String(o.seed), '--quality', String(o.quality), '--range', `${start}:${end}`, '--quiet',
  ];
  const submissionId = newSubmissionId();
  await addJobOnce(
    client,
    {
      ...jobSpec({ jobId, poolId: options.pool, bundleUrl: bundle.url, bundleSha256: bundle.sha256, jobFolder: destinationUrl, identityResourceId }),
      displayName: `pixbatch generate ${destinationUrl}`.slice(0, 1024),
      // No job folder: `batch status` has nothing to merge for a generation job.
      metadata: [
        { name: 'pixbatch-generate', value: destinationUrl },
        { name: 'pixbatch-bundle-sha256', value: bundle.sha256 },
        { name: META_SUBMISSION, value: submissionId },
      ],
    },
    { abortSignal: options.signal },
  );
  const specs = taskSpecs({
    sha256: bundle.sha256,
    jobFolder: destinationUrl,
    shards: tasks,
    maxTaskRetryCount: options.maxTaskRetries ?? 3,
    maxWallClockTime: maxTaskTime,
    identityClientId,
    commandLine: (i) => bundleCommand(bundle.sha256, args(i * size, Math.min(files, (i + 1) * size))),
  });
  try {
    await addTasks(client, jobId, specs, { signal: options.signal });
    await client.patchJob(jobId, { onAllTasksComplete: 'terminatejob' });
  } catch (err) {
    await client.deleteJob(jobId).catch(() => {});
    throw err;
  }
  status(`Submitted job ${jobId}: ${tasks} task(s) of up to ${size} files to pool ${options.pool}`);
  if (options.wait === false) return { jobId, tasks, files, finished: false, failedTasks: [] };
  try {
    const failedTasks = await watchTasks(client, jobId, tasks, options);
    return { jobId, tasks, files, finished: true, failedTasks };
  } catch (err) {
    if (options.signal?.aborted) return { jobId, tasks, files, finished: false, failedTasks: [] };
    throw err;
  }
}

/** Files per task: as given, or about four tasks per task slot so a slow node costs a quarter of its share. */
function shardSizeOf(value: number | string | undefined, files: number, slots: number): number {
  if (value === undefined || value === '' || value === 'auto') return Math.min(MAX_SHARD, Math.max(1, Math.ceil(files / (slots * 4))));
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_SHARD) {
    throw new UsageError(`Expected integer between 1 and ${MAX_SHARD}, or auto, for shard-size but received ${JSON.stringify(value)}`);
  }
  return n;
}

/** Polls until every task has completed or the job has ended; returns the ids of tasks that failed. */
async function watchTasks(client: BatchClient, jobId: string, tasks: number, options: GenerateOnBatchOptions): Promise<string[]> {
  const signal = options.signal;
  for (;;) {
    signal?.throwIfAborted();
    let state = 'deleted';
    try {
      state = (await client.getJob(jobId, { select: 'id,state', abortSignal: signal })).state;
    } catch (err) {
      if (!isBatchError(err, 'JobNotFound')) throw err;
    }
    const counts = state === 'deleted' ? undefined : (await client.getTaskCounts(jobId, { abortSignal: signal })).taskCounts;
    options.onProgress?.({ tasksCompleted: counts?.completed ?? 0, tasks });
    const ended = state === 'completed' || state === 'deleted' || state === 'deleting';
    // Task counts are approximate: completion is decided from the list of completed tasks.
    if (ended || (counts?.completed ?? 0) >= tasks) {
      const completed = [];
      if (state !== 'deleted') {
        for await (const t of client.listTasks(jobId, { filter: "state eq 'completed'", select: 'id,state,executionInfo', maxResults: 1000, abortSignal: signal })) completed.push(t);
      }
      if (completed.length >= tasks || ended) {
        const failed = completed.filter((t) => t.executionInfo?.result === 'failure' || (t.executionInfo?.exitCode ?? 0) !== 0).map((t) => t.id);
        const missing = tasks - completed.length;
        return missing > 0 ? [...failed, `${missing} task(s) never completed (job ${state})`] : failed;
      }
    }
    await new Promise<void>((resolve) => setTimeout(resolve, options.pollMs ?? 5000));
  }
}
