/**
 * Event Grid events as the Functions app receives them: the Event Grid schema (what
 * `az eventgrid event-subscription create` delivers by default) and the CloudEvents 1.0 schema,
 * reduced to what the app needs. Shapes from the Event Grid docs: "Azure Blob Storage as an Event Grid
 * source" (Microsoft.Storage.BlobCreated) and "Endpoint validation with Event Grid event schema".
 */
import type { BlobLocation } from '../store/location.js';

export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';
export const SUBSCRIPTION_VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** One event, whichever schema it came in. */
export interface BlobEvent {
  id: string;
  type: string;
  /** `/subscriptions/…/providers/Microsoft.Storage/storageAccounts/ACCOUNT` (`topic`, or `source` in CloudEvents). */
  topic?: string;
  /** `/blobServices/default/containers/CONTAINER/blobs/NAME`. */
  subject: string;
  time?: string;
  data?: Record<string, unknown>;
}

/** Event Grid schema (`eventType`, `topic`, `eventTime`) or CloudEvents (`type`, `source`, `time`) → BlobEvent. */
export function normalizeEvent(raw: unknown): BlobEvent | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const e = raw as Record<string, unknown>;
  const type = typeof e.eventType === 'string' ? e.eventType : typeof e.type === 'string' ? e.type : undefined;
  if (!type || typeof e.subject !== 'string') return undefined;
  const topic = typeof e.topic === 'string' ? e.topic : typeof e.source === 'string' ? e.source : undefined;
  const time = typeof e.eventTime === 'string' ? e.eventTime : typeof e.time === 'string' ? e.time : undefined;
  const data = e.data && typeof e.data === 'object' ? (e.data as Record<string, unknown>) : undefined;
  return { id: typeof e.id === 'string' ? e.id : '', type, topic, subject: e.subject, time, data };
}

/** Where an event points: the account (from its topic), container and blob name (from its subject). */
export function blobOf(event: BlobEvent): { account?: string; container: string; name: string } | undefined {
  const m = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/.exec(event.subject);
  if (!m) return undefined;
  const account = event.topic ? /\/storageAccounts\/([^/]+)$/i.exec(event.topic)?.[1] : undefined;
  return { account, container: m[1]!, name: m[2]! };
}

export type Selection = { name: string } | { ignored: string };

/**
 * The blob's name relative to the source location, or why the event is not for this app: another event
 * type, another account or container, outside the prefix, or the first half of a Data Lake file write
 * (CreateFile announces an empty file; FlushWithClose follows when it holds its data).
 */
export function selectBlob(event: BlobEvent, source: BlobLocation): Selection {
  if (event.type !== BLOB_CREATED) return { ignored: `event type ${event.type}` };
  if (event.data?.api === 'CreateFile') return { ignored: 'CreateFile (the FlushWithClose event follows)' };
  const blob = blobOf(event);
  if (!blob) return { ignored: `subject ${event.subject} names no blob` };
  if (blob.account && source.accountName && blob.account.toLowerCase() !== source.accountName.toLowerCase()) {
    return { ignored: `account ${blob.account}, not ${source.accountName}` };
  }
  if (blob.container !== source.container) return { ignored: `container ${blob.container}, not ${source.container}` };
  if (!blob.name.startsWith(source.prefix)) return { ignored: `${blob.container}/${blob.name} is outside ${source.container}/${source.prefix}` };
  const name = blob.name.slice(source.prefix.length);
  if (!name || name.endsWith('/')) return { ignored: `${blob.name} is a folder` };
  return { name };
}

/** The validation code when this request is Event Grid's subscription-validation handshake. */
export function validationCode(events: unknown[]): string | undefined {
  if (events.length !== 1) return undefined;
  const e = normalizeEvent(events[0]);
  const code = e?.type === SUBSCRIPTION_VALIDATION ? e.data?.validationCode : undefined;
  return typeof code === 'string' ? code : undefined;
}
