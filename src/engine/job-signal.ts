import { setMaxListeners } from 'node:events';

/**
 * A signal owned by one job that aborts when the caller's does, with the caller's reason.
 *
 * Every storage request in flight listens for abort until it settles (the planner's stats, the
 * pipeline's reads and writes, retry waits), so a job legitimately holds up to about its I/O
 * concurrency of listeners at once, and Node warns (MaxListenersExceededWarning) past 10. The job's
 * requests listen here instead of on the caller's signal, which gets one listener for the whole job;
 * the limit is set to the job's real bound, so a listener that is never removed still warns.
 *
 * @example
 * const job = jobSignal(options.signal, 2 * ioConcurrency + 8);
 * try { await work(job.signal); } finally { job.release(); }
 */
export function jobSignal(outer: AbortSignal | undefined, maxListeners: number): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  setMaxListeners(maxListeners, controller.signal);
  if (!outer) return { signal: controller.signal, release() {} };
  const follow = () => controller.abort(outer.reason);
  if (outer.aborted) follow();
  else outer.addEventListener('abort', follow, { once: true });
  return { signal: controller.signal, release: () => outer.removeEventListener('abort', follow) };
}

/**
 * What a job that ends with `err` rejects with: once the caller has aborted, the caller's reason itself
 * (as `fetch()` and `signal.throwIfAborted()` do), not the storage error the abort caused in a request.
 *
 * @example
 * try { await work(signal); } catch (err) { throw abortReasonOr(signal, err); }
 */
export function abortReasonOr(signal: AbortSignal | undefined, err: unknown): unknown {
  return signal?.aborted ? signal.reason : err;
}
