// Watches a submitted job: progress in images from the result files written so far, tasks by state
// from the service, and completion decided from a filtered task list (task counts are approximate).
import type { ImageRecord } from '../interfaces.js';
import type { BatchClient, BatchTask, TaskCounts } from './client.js';
import { isBatchError } from './client.js';
import type { JobFolder, JobFile } from './job-folder.js';

export interface ImageProgress {
  /** Images with a result so far (planning-time skips included). */
  done: number;
  total: number;
  converted: number;
  skipped: number;
  failed: number;
}

export interface WatchProgress {
  jobId: string;
  jobState: string;
  images: ImageProgress;
  tasks: TaskCounts & { total: number };
  /** Images per second since watching began. */
  rate: number;
  /** Seconds left at the current rate, when it can be told. */
  etaSeconds?: number;
  elapsedMs: number;
}

export interface FailedTask {
  id: string;
  exitCode?: number;
  failure?: string;
  retries: number;
  stderrTail: string;
}

export interface WatchResult {
  jobState: string;
  /** Whether every task completed (false when the job was terminated or deleted first). */
  allTasksCompleted: boolean;
  completedTasks: number;
  failedTasks: FailedTask[];
  progress: WatchProgress;
  /** Seconds the completed tasks ran (last attempt each): the node time the job used, one slot per node. */
  taskSeconds: number;
}

/** Least time between two counts of the result files. */
const RESULTS_EVERY_MS = 3000;

/** Counts images in result files, re-reading only files whose etag changed since the last look. */
export class ResultCounter {
  private readonly seen = new Map<string, { etag: string; counts: Omit<ImageProgress, 'total' | 'done'> }>();
  constructor(private readonly folder: JobFolder) {}

  async count(total: number): Promise<ImageProgress> {
    for await (const entry of this.folder.store.list({ prefix: 'results/' })) {
      if (!entry.name.endsWith('.jsonl')) continue;
      const prev = this.seen.get(entry.name);
      if (prev && prev.etag === entry.etag) continue;
      let records: ImageRecord[] | undefined;
      try {
        records = await this.folder.readResults(entry.name);
      } catch {
        continue; // replaced while reading: counted on the next look
      }
      const counts = { converted: 0, skipped: 0, failed: 0 };
      for (const r of records ?? []) {
        if (r.status === 'converted') counts.converted++;
        else if (r.status === 'failed') counts.failed++;
        else counts.skipped++;
      }
      this.seen.set(entry.name, { etag: entry.etag, counts });
    }
    const p: ImageProgress = { done: 0, total, converted: 0, skipped: 0, failed: 0 };
    for (const { counts } of this.seen.values()) {
      p.converted += counts.converted;
      p.skipped += counts.skipped;
      p.failed += counts.failed;
    }
    p.done = p.converted + p.skipped + p.failed;
    return p;
  }
}

export interface WatchInput {
  client: BatchClient;
  job: JobFile;
  folder: JobFolder;
  /** Between looks (default 5 s; the service's counts change no faster). */
  pollMs?: number;
  onProgress?: (p: WatchProgress) => void;
  signal?: AbortSignal;
}

/** Polls until every task has completed (or the job ended otherwise), then gathers the failed tasks. */
export async function watchJob(input: WatchInput): Promise<WatchResult> {
  const { client, job, folder } = input;
  const jobId = job.jobId;
  const totalTasks = job.shards.count;
  const counter = new ResultCounter(folder);
  const started = Date.now();
  let firstDone: number | undefined;
  let last: WatchProgress | undefined;
  let images: ImageProgress | undefined;
  let countedAt = 0;

  for (;;) {
    input.signal?.throwIfAborted();
    let jobState = 'deleted';
    try {
      jobState = (await client.getJob(jobId, { select: 'id,state', abortSignal: input.signal })).state;
    } catch (err) {
      if (!isBatchError(err, 'JobNotFound')) throw err;
    }
    const counts = jobState === 'deleted' ? { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 } : (await client.getTaskCounts(jobId, { abortSignal: input.signal })).taskCounts;
    // Counting images lists the result files: on a big job that costs more than the service calls, so less often.
    if (!images || Date.now() - countedAt >= Math.max(input.pollMs ?? 5000, RESULTS_EVERY_MS)) {
      images = await counter.count(job.planned.total);
      countedAt = Date.now();
    }
    firstDone ??= images.done;
    const elapsedMs = Date.now() - started;
    const rate = elapsedMs > 0 ? ((images.done - firstDone) * 1000) / elapsedMs : 0;
    const left = images.total - images.done;
    last = {
      jobId,
      jobState,
      images,
      tasks: { ...counts, total: totalTasks },
      rate,
      etaSeconds: rate > 0 ? left / rate : undefined,
      elapsedMs,
    };
    input.onProgress?.(last);

    // 'terminating' is still ending its tasks: wait for 'completed'.
    const ended = jobState === 'completed' || jobState === 'deleted' || jobState === 'deleting';
    if (ended || counts.completed >= totalTasks) {
      const completed = jobState === 'deleted' ? [] : await completedTasks(client, jobId, input.signal);
      if (completed.length >= totalTasks || ended) {
        const failed = completed.filter((t) => t.executionInfo?.result === 'failure' || (t.executionInfo?.exitCode ?? 0) !== 0);
        // The stderr of the first few is enough to see what went wrong; the rest are named without it.
        const failedTasks = await Promise.all(failed.map((t, i) => describeFailure(client, jobId, t, i < STDERR_TAILS_FETCHED)));
        // One last look so the final counts include results written just before the end.
        last = { ...last, images: await counter.count(job.planned.total) };
        return { jobState, allTasksCompleted: completed.length >= totalTasks, completedTasks: completed.length, failedTasks, progress: last, taskSeconds: taskSeconds(completed) };
      }
    }
    await sleep(input.pollMs ?? 5000, input.signal);
  }
}

/** Sum of the tasks' run times, from the service's start and end times. */
export function taskSeconds(tasks: BatchTask[]): number {
  let ms = 0;
  for (const t of tasks) {
    const start = Date.parse(t.executionInfo?.startTime ?? '');
    const end = Date.parse(t.executionInfo?.endTime ?? '');
    if (Number.isFinite(start) && Number.isFinite(end) && end > start) ms += end - start;
  }
  return ms / 1000;
}

async function completedTasks(client: BatchClient, jobId: string, signal?: AbortSignal): Promise<BatchTask[]> {
  const out: BatchTask[] = [];
  for await (const t of client.listTasks(jobId, { filter: "state eq 'completed'", select: 'id,state,executionInfo', maxResults: 1000, abortSignal: signal })) {
    // A scheduled job also has its manager task; only shard tasks are the job's work.
    if (t.id.startsWith('shard-')) out.push(t);
  }
  return out;
}

const STDERR_TAIL_BYTES = 2048;

const STDERR_TAILS_FETCHED = 20;

async function describeFailure(client: BatchClient, jobId: string, t: BatchTask, withStderr: boolean): Promise<FailedTask> {
  let stderrTail = '';
  try {
    if (withStderr) stderrTail = (await client.getTaskFile(jobId, t.id, 'stderr.txt', { tailBytes: STDERR_TAIL_BYTES })).trimEnd();
  } catch (err) {
    stderrTail = `(stderr.txt not available: ${(err as Error).message})`;
  }
  const info = t.executionInfo?.failureInfo;
  return {
    id: t.id,
    exitCode: t.executionInfo?.exitCode,
    failure: info ? `${info.category}${info.code ? ` ${info.code}` : ''}${info.message ? `: ${info.message}` : ''}` : undefined,
    retries: t.executionInfo?.retryCount ?? 0,
    stderrTail,
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
