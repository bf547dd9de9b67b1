// What each Batch task runs: the local engine's pipeline over one shard, results written beside it.
import pLimit from 'p-limit';
import type { ImageRecord, Store, WorkItem } from '../interfaces.js';
import { resolveOptions, type ResolvedOptions } from '../options.js';
import { JobError } from '../errors.js';
import { specId } from '../convert/spec.js';
import { upToDateReason } from '../plan/plan.js';
import { runPipeline } from '../engine/pipeline.js';
import { isStorageFailure } from '../engine/retry.js';
import { openStore } from '../store/index.js';
import { withJobSpan } from '../telemetry/index.js';
import { JobFolder, resultFile, type JobFile } from './job-folder.js';

export interface WorkerInput {
  jobFolder: string;
  shard: number;
  /** Images converting at once (default: the node's cores). */
  concurrency?: number;
  /** How often partial results are written, so watchers see progress in images. */
  flushEveryMs?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface WorkerOutcome {
  converted: number;
  skipped: number;
  failed: number;
}

/**
 * Converts one shard. A bad image becomes a failed record; a storage or credential fault throws
 * (the CLI exits non-zero and Batch retries the task). Outputs already written by an earlier attempt
 * of this task (a pre-empted node, a retry) are not converted again and count as converted once.
 */
export async function runWorker(input: WorkerInput): Promise<WorkerOutcome> {
  const folder = await JobFolder.open(input.jobFolder);
  let source: Store | undefined;
  let destination: Store | undefined;
  try {
    const job = await folder.readJob();
    const options = workerOptions(job, input.concurrency);
    const items = await folder.readShard(input.shard);
    source = await openStore(job.source, 'source');
    destination = await openStore(job.destination, 'destination');
    // Only --overwrite always needs to tell this job's outputs from older ones (by the storage's clock).
    const jobStartMs = options.overwrite === 'always' ? ((await folder.jobWrittenMs()) ?? Date.parse(job.createdAt)) : 0;
    const tags = { task: process.env.AZ_BATCH_TASK_ID, node: process.env.AZ_BATCH_NODE_ID };
    const records: ImageRecord[] = [];
    const name = resultFile(input.shard);

    // Results are rewritten every few seconds: watchers count images from them, and the write is atomic.
    let dirty = false;
    let flushing: Promise<void> = Promise.resolve();
    const flush = () => {
      if (!dirty) return flushing;
      dirty = false;
      const snapshot = records.slice();
      flushing = flushing.then(() => folder.writeResults(name, snapshot)).catch((err) => input.log?.(`cannot write partial results: ${(err as Error).message}`));
      return flushing;
    };
    const timer = setInterval(() => void flush(), input.flushEveryMs ?? 3000);
    timer.unref();
    const add = (r: ImageRecord) => {
      records.push({ ...tags, ...r, at: r.at ?? Date.now() });
      dirty = true;
    };

    try {
      const todo = await doneEarlier(items, destination, options, jobStartMs, add);
      // What an earlier attempt left done is in this task's results but not in this attempt's
      // pipeline: the span says so apart, so its counts stay this attempt's own and a lost earlier
      // attempt's span still shows up as a difference that adds up.
      const earlier = records.filter((r) => r.status === 'converted').length;
      // Outputs --overwrite never keeps are this attempt's skips, found before the pipeline ran.
      const kept = records.length - earlier;
      const span = { jobId: process.env.AZ_BATCH_JOB_ID, taskId: tags.task, nodeId: tags.node, format: options.spec.to, preset: options.spec.preset };
      await withJobSpan(
        'batch-task',
        span,
        (observer) => runPipeline({ items: todo, source: source!, destination: destination!, options, onRecord: add, recordTags: tags, signal: input.signal, checkUpToDate: false, observer }),
        (s) => ({
          counts: { ...s.counts, total: s.counts.total + kept, skipped: s.counts.skipped + kept, ...(earlier ? { earlier } : {}) },
          bytesIn: s.bytesIn,
          bytesOut: s.bytesOut,
        }),
      );
      const storage = records.filter(isStorageFailure);
      if (storage.length) {
        throw new JobError(`${storage.length} image(s) could not be read or written: ${storage[0]!.reason ?? storage[0]!.code}`, storage[0]!.code);
      }
      clearInterval(timer);
      await flushing;
      // The final write must land: without it the task's images would have no result, so a failure fails the task.
      await folder.writeResults(name, records);
      const count = (status: ImageRecord['status']) => records.filter((r) => r.status === status).length;
      return { converted: count('converted'), skipped: count('skipped'), failed: count('failed') };
    } finally {
      clearInterval(timer);
    }
  } finally {
    await source?.close?.();
    await destination?.close?.();
    await folder.close();
  }
}

function workerOptions(job: JobFile, concurrency?: number): ResolvedOptions {
  const base = resolveOptions({
    include: job.options.include,
    exclude: job.options.exclude,
    overwrite: job.options.overwrite,
    maxPixels: job.options.maxPixels,
    concurrency: concurrency ?? job.options.concurrency,
    ioConcurrency: job.options.ioConcurrency,
  });
  return { ...base, spec: job.spec };
}

/**
 * Items whose output is already there for this spec and source version. Shards only hold what needed
 * converting at planning time, so such an output was written by an earlier attempt of this task:
 * it is recorded as converted, not converted again. With `--overwrite always` only outputs written
 * after the job was created count.
 */
async function doneEarlier(
  items: WorkItem[],
  destination: Store,
  options: ResolvedOptions,
  jobStartMs: number,
  add: (r: ImageRecord) => void,
): Promise<WorkItem[]> {
  const spec = specId(options.spec);
  const limit = pLimit(options.ioConcurrency);
  const todo: Array<WorkItem | undefined> = await Promise.all(
    items.map((item) =>
      limit(async () => {
        const out = await destination.stat(item.output);
        if (!out) return item;
        const upToDate = upToDateReason(item, out, spec) !== undefined;
        if (upToDate && (options.overwrite !== 'always' || out.mtimeMs >= jobStartMs)) {
          add({ name: item.name, output: item.output, status: 'converted', reason: 'converted by an earlier attempt', bytesIn: item.size, bytesOut: out.size });
          return undefined;
        }
        if (options.overwrite === 'never') {
          add({ name: item.name, output: item.output, status: 'skipped', reason: 'output exists (--overwrite never)' });
          return undefined;
        }
        return item;
      }),
    ),
  );
  return todo.filter((i): i is WorkItem => i !== undefined);
}
