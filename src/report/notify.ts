import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { AbortError } from 'p-retry';
import { UsageError } from '../errors.js';
import type { Summary } from '../interfaces.js';
import { VERSION } from '../version.js';
import { retryAfterMs, withDeliveryRetries } from './delivery-retry.js';
import { mailtoAddress, resolveEmailSettings, sendJobEndMail, type EmailSettings, type MailHints } from './email.js';

/** How a job ended, as the webhook's `X-Pixbatch-Outcome` header says. */
export type JobOutcome = 'success' | 'partial' | 'failed';

export const SECRET_ENV = 'PIXBATCH_WEBHOOK_SECRET';
export const HEADER_OUTCOME = 'x-pixbatch-outcome';
export const HEADER_SIGNATURE = 'x-pixbatch-signature';
export const HEADER_TIMESTAMP = 'x-pixbatch-timestamp';
export const HEADER_DELIVERY = 'x-pixbatch-delivery';
export const HEADER_EVENT = 'x-pixbatch-event';

export interface NotifyOptions {
  /** Signs the body; defaults to `PIXBATCH_WEBHOOK_SECRET`. An empty string means unsigned. */
  secret?: string;
  /** Retries after the first attempt on network errors, timeouts, 5xx and 429 (default 5). */
  retries?: number;
  signal?: AbortSignal;
  /** Overrides the outcome worked out from the counts (for a job that ended with an error). */
  outcome?: JobOutcome;
  /** Wait before the first retry, doubled each time up to `maxDelayMs` (defaults 1000 and 30000). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Gives up on one attempt after this long (default 15000). */
  attemptTimeoutMs?: number;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (info: { attempt: number; retriesLeft: number; error: Error }) => void | Promise<void>;
  /** Where the warning goes when the notification could not be delivered (default: stderr). */
  warn?: (message: string) => void;
  /** For `mailto:` targets: the Communication Services endpoint, sender and credential (default: environment). */
  email?: EmailSettings;
  /** For `mailto:` targets: where the report is, shown at the end of the mail. */
  hints?: MailHints;
  /** For `mailto:` targets: wait between looks at the send operation when the service names none. */
  pollIntervalMs?: number;
}

export interface NotifyResult {
  delivered: boolean;
  attempts: number;
  /** HTTP status of the last answer, when there was one. */
  status?: number;
  /** Why delivery failed. */
  error?: string;
}

/** success: nothing failed; failed: nothing converted or skipped but something failed; partial otherwise. */
export function outcomeOf(summary: Summary): JobOutcome {
  const { converted, skipped, failed } = summary.counts;
  if (failed === 0) return 'success';
  return converted + skipped === 0 ? 'failed' : 'partial';
}

/** Checks a `--notify` value before the job starts, so a typo is a usage error rather than a late warning. */
export function checkNotifyUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Expected an http:// or https:// URL for notify but received "${url}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UsageError(`Expected an http:// or https:// URL for notify but received "${parsed.protocol}" URL`);
  }
  return parsed;
}

/**
 * Checks `--notify` values (and `notify.to` in the config file) before the job starts: each is an http(s)
 * webhook URL or `mailto:ADDRESS`; with any `mailto:` the email settings must be complete too.
 * Returns the targets as given, for `notifyAll`.
 */
export function checkNotifyTargets(targets: string | readonly string[] | undefined, email?: EmailSettings): string[] {
  const list = targets === undefined ? [] : typeof targets === 'string' ? [targets] : [...targets];
  let mail = false;
  for (const t of list) {
    if (mailtoAddress(t)) mail = true;
    else checkNotifyUrl(t);
  }
  if (mail) resolveEmailSettings(email);
  return list;
}

/**
 * Tells every target that the job ended: a POST per webhook URL, and one mail to all `mailto:` addresses.
 * Never throws for a delivery problem; each one that fails is a warning.
 *
 * @example
 * await notifyAll(['https://hooks.example.com/pixbatch', 'mailto:ops@example.com'], summary);
 */
export async function notifyAll(targets: readonly string[], summary: Summary, options: NotifyOptions = {}): Promise<NotifyResult[]> {
  const addresses = targets.map(mailtoAddress).filter((a): a is string => a !== undefined);
  const hooks = targets.filter((t) => mailtoAddress(t) === undefined);
  const sends: Array<Promise<NotifyResult>> = hooks.map((url) => notifyJobEnd(url, summary, options));
  if (addresses.length) sends.push(mailJobEnd([...new Set(addresses)], summary, options));
  return Promise.all(sends);
}

async function mailJobEnd(addresses: string[], summary: Summary, options: NotifyOptions): Promise<NotifyResult> {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  try {
    return await sendJobEndMail(addresses, summary, { ...options, outcome: options.outcome ?? outcomeOf(summary) });
  } catch (err) {
    // Settings that went missing since the check (or the mail SDK failing to load) must not end the job either.
    const error = err instanceof Error ? err.message : String(err);
    warn(`pixbatch: warning: job-end mail to ${addresses.join(', ')} not sent: ${error}`);
    return { delivered: false, attempts: 0, error };
  }
}

/** `sha256=<hex>`: HMAC-SHA256 with the secret over `<timestamp>.<body>`. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * What a receiver does with a delivery: recomputes the signature over the raw body and the timestamp header,
 * compares in constant time, and refuses timestamps older (or newer) than the tolerance, so a captured
 * delivery cannot be replayed later.
 *
 * @example
 * const ok = verifyWebhookSignature(process.env.PIXBATCH_WEBHOOK_SECRET!, rawBody,
 *   req.headers['x-pixbatch-timestamp'], req.headers['x-pixbatch-signature']);
 */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  timestamp: string | undefined,
  signature: string | undefined,
  options: { toleranceSeconds?: number; nowMs?: number } = {},
): boolean {
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  const age = Math.abs((options.nowMs ?? Date.now()) / 1000 - Number(timestamp));
  if (age > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Only the origin: webhook paths and queries often carry the receiver's token. */
function shown(url: URL): string {
  return url.origin;
}

class HttpStatusError extends Error {
  constructor(readonly status: number, readonly retryAfterMs?: number) {
    super(`receiver answered HTTP ${status}`);
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${err.message} (${cause.code})`;
  return err.name === 'TimeoutError' ? 'attempt timed out' : err.message;
}

/**
 * POSTs the job's summary (the same JSON `--json` prints) to `url` when a job ends (a `mailto:` URL is mailed instead,
 * see `notifyAll`). Network errors,
 * timeouts, 5xx and 429 are retried with exponential backoff; other answers are final. With a secret
 * (option or `PIXBATCH_WEBHOOK_SECRET`) the body is signed: see `signWebhook`. Never throws for a delivery
 * problem: a notification that cannot be delivered is a warning, not a failed job.
 *
 * @example
 * const summary = await convert({ source: 'photos', destination: 'png' });
 * await notifyJobEnd('https://hooks.example.com/pixbatch', summary);
 */
export async function notifyJobEnd(url: string, summary: Summary, options: NotifyOptions = {}): Promise<NotifyResult> {
  const address = mailtoAddress(url);
  if (address) return mailJobEnd([address], summary, options);
  const target = checkNotifyUrl(url);
  const secret = options.secret ?? process.env[SECRET_ENV] ?? '';
  const outcome = options.outcome ?? outcomeOf(summary);
  const body = JSON.stringify(summary);
  const delivery = randomUUID();
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  let attempts = 0;
  let status: number | undefined;

  const attempt = async (): Promise<void> => {
    attempts++;
    // A fresh timestamp per attempt: a retry after a long backoff must not look like a replay.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `pixbatch/${VERSION}`,
      [HEADER_EVENT]: 'job.end',
      [HEADER_OUTCOME]: outcome,
      [HEADER_DELIVERY]: delivery,
      [HEADER_TIMESTAMP]: timestamp,
    };
    if (secret) headers[HEADER_SIGNATURE] = signWebhook(secret, timestamp, body);
    const timeout = AbortSignal.timeout(options.attemptTimeoutMs ?? 15_000);
    const response = await fetch(target, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
    status = response.status;
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return;
    const err = new HttpStatusError(response.status, retryAfterMs(response.headers.get('retry-after')));
    if (response.status >= 500 || response.status === 429 || response.status === 408) throw err;
    // 3xx and other 4xx: the receiver will say the same next time.
    throw new AbortError(err);
  };

  try {
    await withDeliveryRetries(attempt, options, (error) => (error instanceof HttpStatusError ? error.retryAfterMs : undefined));
    return { delivered: true, attempts, status };
  } catch (err) {
    const error = describe(err);
    warn(`pixbatch: warning: job-end notification to ${shown(target)} not delivered after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${error}`);
    return { delivered: false, attempts, status, error };
  }
}
