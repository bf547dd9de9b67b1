import pLimit from 'p-limit';
import sharp from 'sharp';
import { JobError } from '../errors.js';
import type { FailureCode, ImageRecord, ListingCount, ProgressEvent, Store, Summary, WorkItem } from '../interfaces.js';
import type { ResolvedOptions } from '../options.js';
import { convertImage, ImageError } from '../convert/image.js';
import { releaseBuffer } from '../convert/pixpng.js';
import { largestFirst } from './largest-first.js';
import { contentTypeFor, META_SOURCE_ETAG, META_SPEC, specId } from '../convert/spec.js';
import { upToDateReason } from '../plan/plan.js';
import type { PlannedItem } from '../plan/plan.js';
import { SummaryBuilder } from '../report/summary.js';
import { isFatal, withRetries, type RetryOptions } from './retry.js';
import { redact } from '../store/redact.js';
import type { ImageProbe, ImageStage, PipelineObserver } from '../telemetry/index.js';
import { abortReasonOr, jobSignal } from './job-signal.js';

export interface PipelineInput {
  /** Work to do; planned items marked `skip` or `fail` are recorded as such without any I/O. */
  items: AsyncIterable<WorkItem | PlannedItem> | Iterable<WorkItem | PlannedItem>;
  source: Store;
  destination: Store;
  options: ResolvedOptions;
  /** Checks each output before reading its source (the Batch worker does; the local planner already has). */
  checkUpToDate?: boolean;
  onRecord?: (record: ImageRecord) => void;
  onProgress?: (event: ProgressEvent) => void;
  /** A count of the items from a listing that runs ahead of `items`: progress then has its total early. */
  ahead?: Readonly<ListingCount>;
  /** Stamped on every record (Batch task and node ids). */
  recordTags?: Pick<ImageRecord, 'task' | 'node'>;
  retry?: Partial<RetryOptions>;
  signal?: AbortSignal;
  /** Limits shared by runs in one process (the Functions app runs one per invocation, several at once). */
  limits?: PipelineLimits;
  /** Telemetry's hooks (see withJobSpan); absent when telemetry is off. */
  observer?: PipelineObserver;
}

export interface PipelineLimits {
  cpu: ReturnType<typeof largestFirst>;
  io: ReturnType<typeof pLimit>;
}

/** Conversions bounded by `concurrency`, reads and writes by `ioConcurrency`, as one run bounds them. */
export function pipelineLimits(options: Pick<ResolvedOptions, 'concurrency' | 'ioConcurrency'>): PipelineLimits {
  return { cpu: largestFirst(options.concurrency, options.concurrency + options.ioConcurrency), io: pLimit(options.ioConcurrency) };
}

class ItemFailure extends Error {
  constructor(readonly code: FailureCode, message: string) {
    super(message);
  }
}

/** One line for a record or a stop, with any SAS signature or account key taken out. */
function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; statusCode?: number };
  const msg = redact((e?.message ?? String(err)).split('\n')[0]!);
  return e?.statusCode && !msg.includes(String(e.statusCode)) ? `${msg} (HTTP ${e.statusCode})` : msg;
}

/**
 * Fetch → convert → put for every item: reads and writes bounded by `ioConcurrency`, conversions by
 * `concurrency`, and at most `concurrency + ioConcurrency` images held in memory at once. Transient
 * storage faults are retried; a bad image becomes a failed record and the run goes on. Faults that would
 * fail every image (credentials refused, disk full) stop the run with a JobError.
 *
 * It turns off libvips' operation cache for the process (`sharp.cache(false)`): a job reads each
 * input once, so the cache only held up to 50 MB of images that were never asked for again.
 */
export async function runPipeline(input: PipelineInput): Promise<Summary> {
  sharp.cache(false);
  // Reads and writes in flight, each listening for abort, plus room for retry waits and the listing.
  const job = jobSignal(input.signal, input.options.ioConcurrency + 8);
  try {
    return await pipeline(input, job.signal);
  } catch (err) {
    // The pipeline settles only after the images in flight have finished or removed their temporary files.
    throw abortReasonOr(input.signal, err);
  } finally {
    job.release();
  }
}

async function pipeline(input: PipelineInput, signal: AbortSignal): Promise<Summary> {
  const { source, destination, options } = input;
  const spec = options.spec;
  const id = specId(spec);
  const admit = options.concurrency + options.ioConcurrency;
  const { cpu, io } = input.limits ?? pipelineLimits(options);
  const summary = new SummaryBuilder();
  const retry = { ...input.retry, signal };
  let fatal: unknown;
  let total = 0;
  let listed = false;

  const emit = (record: ImageRecord, probe?: ImageProbe) => {
    const tagged = { ...record, ...input.recordTags, at: Date.now() };
    summary.add(tagged);
    input.observer?.recorded(tagged, probe);
    input.onRecord?.(tagged);
    input.onProgress?.({
      done: summary.counts.total,
      // Admitted items are the total once the planning listing has ended; before, the count ahead knows more.
      total: listed ? total : Math.max(total, input.ahead?.count ?? 0),
      listing: !listed && !input.ahead?.complete,
      converted: summary.counts.converted,
      skipped: summary.counts.skipped,
      failed: summary.counts.failed,
      bytesIn: summary.bytesIn,
      bytesOut: summary.bytesOut,
      elapsedMs: summary.elapsedMs(),
      last: tagged,
    });
  };

  const processItem = async (item: WorkItem): Promise<void> => {
    const started = performance.now();
    const base = { name: item.name, output: item.output };
    const probe = input.observer?.started(item);
    const timed = <T>(stage: ImageStage, fn: () => Promise<T>): Promise<T> => (probe ? probe.stage(stage, fn) : fn());
    try {
      if (input.checkUpToDate && options.overwrite !== 'always') {
        const existing = await io(() => withRetries(() => destination.stat(item.output, { abortSignal: signal }), retry));
        if (existing) {
          const why = options.overwrite === 'never' ? 'output exists (--overwrite never)' : upToDateReason(item, existing, id);
          if (why) return emit({ ...base, status: 'skipped', reason: why }, probe);
        }
      }
      const data = await io(() =>
        timed('read', () => withRetries(() => source.read(item.name, { abortSignal: signal }), retry)).catch((err) => {
          // A read the job's abort cut off says nothing about the image: the run stops instead.
          if (isFatal(err) || signal?.aborted) throw err;
          throw new ItemFailure(codeOf(err, 'READ_FAILED'), `cannot read: ${describe(err)}`);
        }),
      );
      // Of the images read and waiting, the largest converts first (see largestFirst).
      const out = await cpu(data.length, () => timed('convert', () => convertImage(data, spec, { maxPixels: options.maxPixels })));
      try {
        await io(() =>
          timed('write', () =>
            withRetries(
              () =>
                destination.write(item.output, out.data, {
                  abortSignal: signal,
                  contentType: contentTypeFor(spec.to),
                  metadata: { [META_SOURCE_ETAG]: item.etag, [META_SPEC]: id },
                  ifNotExists: options.overwrite === 'never',
                }),
              retry,
            ),
          ),
        );
      } catch (err) {
        if ((err as { code?: string }).code === 'EEXIST') return emit({ ...base, status: 'skipped', reason: 'output appeared meanwhile (--overwrite never)' }, probe);
        if (isFatal(err) || signal?.aborted) throw err;
        throw new ItemFailure(codeOf(err, 'WRITE_FAILED'), `cannot write ${item.output}: ${describe(err)}`);
      }
      const bytesOut = out.data.length;
      // Written: its memory goes back now, not at the next garbage collection.
      releaseBuffer(out.data);
      emit(
        {
          ...base,
          status: 'converted',
          bytesIn: data.length,
          bytesOut,
          width: out.width,
          height: out.height,
          ms: Math.round(performance.now() - started),
        },
        probe,
      );
    } catch (err) {
      if (err instanceof ImageError || err instanceof ItemFailure) {
        return emit({ ...base, status: 'failed', code: err.code, reason: err.message }, probe);
      }
      if (signal?.aborted) throw err;
      if (isFatal(err)) {
        fatal ??= err;
        throw err;
      }
      emit({ ...base, status: 'failed', code: 'CONVERT_FAILED', reason: describe(err) }, probe);
    }
  };

  const inFlight = new Set<Promise<void>>();
  try {
    for await (const item of input.items as AsyncIterable<WorkItem | PlannedItem>) {
      if (fatal) break;
      signal?.throwIfAborted();
      total++;
      const action = (item as PlannedItem).action;
      if (action === 'skip' || action === 'fail') {
        const p = item as PlannedItem & { code?: FailureCode };
        emit({ name: p.name, output: p.output, status: action === 'skip' ? 'skipped' : 'failed', reason: p.reason, ...(action === 'fail' ? { code: p.code } : {}) });
        continue;
      }
      const p = processItem(item).catch((err) => {
        fatal ??= err;
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      // Backpressure on the listing: no more than `admit` images are held at once.
      while (inFlight.size >= admit) await Promise.race(inFlight);
    }
  } catch (err) {
    // An abort (or a failed listing) stops admitting images; those in flight still finish or clean
    // up (a write removes its temporary file) before the run settles.
    await Promise.allSettled(inFlight);
    throw err;
  }
  listed = true;
  await Promise.all(inFlight);
  if (fatal) {
    if (signal?.aborted) throw fatal;
    throw new JobError(`stopped: ${describe(fatal)}`, (fatal as { code?: string }).code, { cause: fatal });
  }
  return summary.result();
}

function codeOf(err: unknown, fallback: FailureCode): FailureCode {
  return (err as { code?: string }).code === 'UNSAFE_NAME' ? 'UNSAFE_NAME' : fallback;
}
