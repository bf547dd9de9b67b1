import { setTimeout as sleep } from 'node:timers/promises';

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'REQUEST_SEND_ERROR', 'ServerBusy', 'OperationTimedOut', 'InternalError',
  'EMFILE', 'ENFILE', 'EBUSY', 'EAGAIN',
]);

/** Storage faults worth another try: dropped connections, timeouts, throttling and 5xx answers. */
export function isTransient(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; statusCode?: unknown; name?: string; cause?: unknown };
  if (e.name === 'AbortError') return false;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && (status === 408 || status === 429 || status >= 500)) return true;
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

/** Faults that will hit every image alike (credentials refused, disk full): the job stops instead of failing each one. */
export function isFatal(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (e.statusCode === 401 || e.statusCode === 403) return true;
  return typeof e.code === 'string' && ['ENOSPC', 'EROFS', 'EDQUOT', 'AuthenticationFailed', 'AuthorizationFailure', 'AuthorizationPermissionMismatch'].includes(e.code);
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
