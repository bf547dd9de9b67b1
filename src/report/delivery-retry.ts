// The one retry policy of job-end notifications, shared by the webhook and the mail: exponential backoff
// (1 s doubling to 30 s, randomized), honouring the receiver's Retry-After.
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { NotifyOptions } from './notify.js';

/** A `Retry-After` header (seconds or an HTTP date) in milliseconds. */
export function retryAfterMs(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Runs `attempt` until it succeeds, throws a p-retry `AbortError` (final) or the retries are spent. Before a
 * retry it waits at least what `waitOf(error)` says the receiver asked for (capped at `maxDelayMs`).
 */
export async function withDeliveryRetries(
  attempt: () => Promise<void>,
  options: Pick<NotifyOptions, 'retries' | 'minDelayMs' | 'maxDelayMs' | 'signal' | 'onRetry'>,
  waitOf: (error: Error) => number | undefined,
): Promise<void> {
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  await pRetry(attempt, {
    retries: options.retries ?? 5,
    minTimeout: options.minDelayMs ?? 1000,
    maxTimeout: maxDelayMs,
    factor: 2,
    randomize: true,
    signal: options.signal,
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft <= 0 || options.signal?.aborted) return;
      await options.onRetry?.({ attempt: attemptNumber, retriesLeft, error });
      const wait = waitOf(error);
      if (wait) await sleep(Math.min(wait, maxDelayMs), undefined, { signal: options.signal });
    },
  });
}
