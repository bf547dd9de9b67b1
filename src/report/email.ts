// Job-end mail through Azure Communication Services Email (`@azure/communication-email`). Loaded only
// when a `mailto:` target is given, so a plain run never loads the SDK.
import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { AbortError } from 'p-retry';
import { UsageError } from '../errors.js';
import type { Summary } from '../interfaces.js';
import { registerSecret } from '../store/redact.js';
import { retryAfterMs, withDeliveryRetries } from './delivery-retry.js';
import type { JobOutcome, NotifyOptions, NotifyResult } from './notify.js';
import { formatBytes } from './summary.js';

/** The Communication Services endpoint, `https://RESOURCE.communication.azure.com`. */
export const EMAIL_ENDPOINT_ENV = 'PIXBATCH_EMAIL_ENDPOINT';
/** A sender address of a domain linked to that resource, e.g. `DoNotReply@GUID.azurecomm.net`. */
export const EMAIL_SENDER_ENV = 'PIXBATCH_EMAIL_SENDER';
/** The variable the Communication Services quickstarts read: `endpoint=https://...;accesskey=...`. */
export const ACS_CONNECTION_STRING_ENV = 'COMMUNICATION_SERVICES_CONNECTION_STRING';

/** How job-end mail is sent. Unset fields come from the environment (see the `*_ENV` names). */
export interface EmailSettings {
  endpoint?: string;
  sender?: string;
  /** Signs requests with the resource's access key; otherwise `credential` or DefaultAzureCredential. */
  connectionString?: string;
  credential?: TokenCredential;
  /** Also trust this CA certificate (PEM), for an endpoint behind a private certificate authority. */
  tlsCa?: string;
}

interface ResolvedEmail extends EmailSettings {
  endpoint: string;
  sender: string;
}

/** At most this many failures are listed in a mail; the report has them all. */
const MAIL_FAILURES = 10;

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

/** The address of a `mailto:ADDRESS` target, or undefined for anything else. Throws for a malformed address. */
export function mailtoAddress(target: string): string | undefined {
  if (!/^mailto:/i.test(target)) return undefined;
  const address = decodeURIComponent(target.slice('mailto:'.length).split('?')[0]!).trim();
  if (!ADDRESS.test(address)) throw new UsageError(`Expected mailto:NAME@DOMAIN for notify but received "${target}"`);
  return address;
}

function endpointOfConnectionString(cs: string): string | undefined {
  return /(?:^|;)\s*endpoint=([^;]+)/i.exec(cs)?.[1]?.trim();
}

/**
 * Fills email settings from the environment and checks them before the job starts, so a missing sender is a
 * usage error now rather than a warning after hours of work.
 */
export function resolveEmailSettings(given: EmailSettings = {}, env: NodeJS.ProcessEnv = process.env): ResolvedEmail {
  const connectionString = given.connectionString ?? (given.credential ? undefined : env[ACS_CONNECTION_STRING_ENV] || undefined);
  const endpoint = given.endpoint || env[EMAIL_ENDPOINT_ENV] || (connectionString ? endpointOfConnectionString(connectionString) : undefined);
  const sender = given.sender || env[EMAIL_SENDER_ENV];
  if (!endpoint) {
    throw new UsageError(
      `Expected a Communication Services endpoint for mailto: notifications: set notify.emailEndpoint in pixbatch.config.json, ${EMAIL_ENDPOINT_ENV} or ${ACS_CONNECTION_STRING_ENV}`,
    );
  }
  if (!/^https?:\/\//i.test(endpoint)) throw new UsageError(`Expected an https:// URL for the email endpoint but received "${endpoint}"`);
  if (!sender || !ADDRESS.test(sender)) {
    throw new UsageError(
      `Expected a sender address for mailto: notifications (from a domain linked to the Communication Services resource): set notify.emailSender in pixbatch.config.json or ${EMAIL_SENDER_ENV}${sender ? `, not "${sender}"` : ''}`,
    );
  }
  return { ...given, endpoint, sender, connectionString };
}

export interface MailHints {
  /** Where the report is, or the command that writes it; shown as the mail's last lines. */
  report?: string[];
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Subject, plain text and HTML of the job-end mail: outcome, counts, bytes, time, cost, first failures, job and report. */
export function jobEndMail(summary: Summary, outcome: JobOutcome, hints: MailHints = {}): { subject: string; plainText: string; html: string } {
  const c = summary.counts;
  const job = summary.jobId ? ` job ${summary.jobId}` : '';
  const what = outcome === 'success' ? 'finished' : outcome === 'partial' ? `finished with ${c.failed} failed` : 'failed';
  const subject = `pixbatch${job} ${what}: ${c.converted} converted, ${c.skipped} skipped, ${c.failed} failed`;
  const rows: Array<[string, string]> = [
    ['Outcome', outcome],
    ...(summary.jobId ? [['Job', summary.jobId] as [string, string]] : []),
    ...(summary.source ? [['From', summary.source] as [string, string]] : []),
    ...(summary.destination ? [['To', summary.destination] as [string, string]] : []),
    ['Images', `${c.converted} converted, ${c.skipped} skipped, ${c.failed} failed of ${c.total}`],
    ['Bytes', `read ${formatBytes(summary.bytesIn)}, wrote ${formatBytes(summary.bytesOut)}`],
    ['Time', `${summary.seconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(1)} images/s)`],
    ...(summary.cost?.total !== undefined ? [['Cost', `${summary.cost.total.toFixed(4)} ${summary.cost.currency}`] as [string, string]] : []),
    ...(summary.error ? [['Stopped by', summary.error] as [string, string]] : []),
  ];
  const failures = summary.failures.slice(0, MAIL_FAILURES);
  const more = summary.failures.length - failures.length;
  const report = hints.report ?? [];
  const text = [
    ...rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${v}`),
    ...(failures.length ? ['', `First failures:`, ...failures.map((f) => `  ${f.name}: ${f.code} ${f.message}`)] : []),
    ...(more > 0 ? [`  … and ${more} more in the report`] : []),
    ...(report.length ? ['', ...report] : []),
  ].join('\n');
  const html = [
    `<p>${escapeHtml(subject)}</p>`,
    `<table>${rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`,
    ...(failures.length
      ? [`<p>First failures:</p><ul>${failures.map((f) => `<li><code>${escapeHtml(f.name)}</code>: ${escapeHtml(f.code)} ${escapeHtml(f.message)}</li>`).join('')}</ul>`]
      : []),
    ...(more > 0 ? [`<p>… and ${more} more in the report</p>`] : []),
    ...report.map((line) => `<p><code>${escapeHtml(line)}</code></p>`),
  ].join('\n');
  return { subject, plainText: text, html };
}

interface RestLikeError extends Error {
  statusCode?: number;
  code?: string;
  response?: { headers: { get(name: string): string | undefined } };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as RestLikeError;
  if (e.statusCode) return `service answered HTTP ${e.statusCode}${e.code ? ` ${e.code}` : ''}: ${e.message.split('\n')[0]}`;
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code ? `${err.message} (${cause.code})` : err.message;
}

/**
 * Mails the job's summary to `addresses` through Communication Services Email: one send to all recipients,
 * polled to its end. Throttling (429), 5xx, 408 and network errors are retried with the webhook's backoff and
 * the same operation id; a send the service refuses or a message it fails to deliver is final. Never throws
 * for a delivery problem: it warns and returns `delivered: false`.
 *
 * @example
 * await sendJobEndMail(['ops@example.com'], summary, { email: { endpoint: 'https://acs.communication.azure.com', sender: 'DoNotReply@x.azurecomm.net' } });
 */
export async function sendJobEndMail(
  addresses: string[],
  summary: Summary,
  options: NotifyOptions & { email?: EmailSettings; outcome: JobOutcome; hints?: MailHints; pollIntervalMs?: number },
): Promise<NotifyResult> {
  const settings = resolveEmailSettings(options.email);
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const { EmailClient } = await import('@azure/communication-email');
  // pixbatch's retry below is the only one, so attempts and warnings count the same as for the webhook.
  const clientOptions = { retryOptions: { maxRetries: 0 }, ...(settings.tlsCa ? { tlsOptions: { ca: settings.tlsCa } } : {}) };
  let client: InstanceType<typeof EmailClient>;
  if (settings.connectionString) {
    // Masked in anything pixbatch prints, like the storage keys.
    registerSecret(/(?:^|;)\s*accesskey=([^;]+)/i.exec(settings.connectionString)?.[1]);
    client = new EmailClient(settings.connectionString, clientOptions);
  } else {
    let credential = settings.credential;
    if (!credential) {
      const { DefaultAzureCredential } = await import('@azure/identity');
      const clientId = process.env.AZURE_CLIENT_ID;
      credential = new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
    }
    client = new EmailClient(settings.endpoint, credential, clientOptions);
  }
  const message = {
    senderAddress: settings.sender,
    content: jobEndMail(summary, options.outcome, options.hints),
    recipients: { to: addresses.map((address) => ({ address })) },
  };
  // One id for every attempt: the service identifies the send by it, so a retry is the same message.
  const operationId = randomUUID();
  let attempts = 0;
  let status: number | undefined;

  const attempt = async (): Promise<void> => {
    attempts++;
    let answered = false;
    let poller;
    try {
      poller = await client.beginSend(message, {
        operationId,
        updateIntervalInMs: options.pollIntervalMs,
        abortSignal: options.signal,
        // The send's own answer (202), not the polls' that reuse these options.
        onResponse: (raw) => {
          if (!answered) status = raw.status;
          answered = true;
        },
      });
    } catch (err) {
      const code = (err as RestLikeError).statusCode;
      if (code !== undefined) status = code;
      // Other 4xx (bad sender, unlinked domain, refused credential): the service will say the same next time.
      if (code !== undefined && code < 500 && code !== 429 && code !== 408) throw new AbortError(err as Error);
      throw err;
    }
    try {
      await poller.pollUntilDone({ abortSignal: options.signal });
    } catch (err) {
      // The service accepted the message and then could not deliver it (e.g. EmailDropped): sending again will not help.
      if (poller.getOperationState().status === 'failed') throw new AbortError(err as Error);
      throw err;
    }
  };

  try {
    await withDeliveryRetries(attempt, options, (error) => retryAfterMs((error as RestLikeError).response?.headers.get('retry-after')));
    return { delivered: true, attempts, status };
  } catch (err) {
    const error = describeError(err);
    warn(`pixbatch: warning: job-end mail to ${addresses.join(', ')} not sent after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${error}`);
    return { delivered: false, attempts, status, error };
  }
}
