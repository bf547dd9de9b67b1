import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageRecord } from '../interfaces.js';

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
export const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'REQUEST_SEND_ERROR',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'ServerBusy',
  'OperationTimedOut',
  'InternalError',
  // Local files: out of descriptors or a busy file is worth another try too.
  'EMFILE',
  'ENFILE',
  'EBUSY',
  'EAGAIN',
]);

export interface ErrorLike {
  name?: string;
  message?: string;
  code?: unknown;
  statusCode?: unknown;
  transient?: unknown;
  cause?: unknown;
  details?: { errorCode?: unknown };
}

/**
 * True when a storage error is worth retrying: connection resets and timeouts, 408/429/500/502/503/504,
 * throttling. False for refusals (401/403), missing things (404), conflicts (409/412) and user aborts.
 */
export function isTransient(err: unknown): boolean {
  for (let e = err as ErrorLike | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as ErrorLike, depth++) {
    if (typeof e.transient === 'boolean') return e.transient;
    if (e.name === 'AbortError') return false;
    if (typeof e.statusCode === 'number' && e.statusCode > 0) return TRANSIENT_STATUS.has(e.statusCode);
    if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
    if (typeof e.details?.errorCode === 'string' && TRANSIENT_CODES.has(e.details.errorCode)) return true;
    if (typeof e.message === 'string' && /socket hang up|ECONNRESET|ETIMEDOUT|network timeout/i.test(e.message)) return true;
  }
  return false;
}

/** Faults that will hit every image alike (credentials refused, disk full): the job stops instead of failing each one. */
export function isFatal(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (e.statusCode === 401 || e.statusCode === 403) return true;
  return typeof e.code === 'string' && ['ENOSPC', 'EROFS', 'EDQUOT', 'AuthenticationFailed', 'AuthorizationFailure', 'AuthorizationPermissionMismatch'].includes(e.code);
}

/** A source deleted since its work was handed out is that image's failure: trying again would not bring it back. */
const GONE = /\b(404|ENOENT)\b|does not exist|BlobNotFound/;

/**
 * A failed record whose cause is the storage or the credential, not the image: the unit of work (a Batch
 * task, a Functions invocation) must fail so the platform runs it again.
 */
export function isStorageFailure(record: ImageRecord): boolean {
  return record.status === 'failed' && (record.code === 'READ_FAILED' || record.code === 'WRITE_FAILED') && !GONE.test(record.reason ?? '');
}

export interface RetryOptions {
  retries: number;
  /** Delay before the first retry, doubled each time (with jitter). */
  baseMs: number;
  maxMs: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number) => void;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, baseMs: 200, maxMs: 10_000 };

/** Runs `fn`, retrying transient failures with exponential backoff and full jitter. */
export async function withRetries<T>(fn: () => Promise<T>, options: Partial<RetryOptions> = {}): Promise<T> {
  const o = { ...DEFAULT_RETRY, ...options };
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= o.retries || !isTransient(err) || o.signal?.aborted) throw err;
      o.onRetry?.(err, attempt + 1);
      const cap = Math.min(o.maxMs, o.baseMs * 2 ** attempt);
      await sleep(Math.random() * cap, undefined, { signal: o.signal });
    }
  }
}
