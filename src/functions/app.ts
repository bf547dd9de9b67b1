/**
 * The Azure Functions app (Node.js v4 programming model): `pixbatch/functions`.
 *
 * Two ways in, one conversion:
 * - `convertBlobCreated`, an Event Grid trigger: the way the Event Grid docs recommend for a function
 *   ("Use a function as an event handler for Event Grid events": the trigger is validated for you and
 *   Event Grid matches its delivery rate to the function); it takes one event per invocation.
 * - `blobCreatedWebhook`, an HTTP trigger for a WebHook subscription (needed when the app sits behind
 *   Microsoft Entra sign-in, and for batches of events in one request): it answers the subscription-
 *   validation handshake itself, and the CloudEvents abuse-protection OPTIONS request.
 *
 * @example
 * // The whole entry of a Functions project:
 * import { app } from '@azure/functions';
 * import { registerFunctions } from 'pixbatch/functions';
 * registerFunctions(app);
 */
import type { EventGridEvent, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { UsageError } from '../errors.js';
import { redact } from '../store/redact.js';
import { BlobEventConverter, type EventsOutcome, type FunctionLog } from './convert-events.js';
import { validationCode } from './events.js';
import { readSettings } from './settings.js';
import { prestartTelemetry } from '../telemetry/index.js';

export { BlobEventConverter } from './convert-events.js';
export type { EventsOutcome, FunctionLog } from './convert-events.js';
export { readSettings, OPTION_SETTINGS, DEFAULT_CONNECTION } from './settings.js';
export type { FunctionSettings } from './settings.js';
export { BLOB_CREATED, SUBSCRIPTION_VALIDATION } from './events.js';

let opening: Promise<BlobEventConverter> | undefined;

/** One converter per instance, opened on first use from the app settings; a failed open is tried again next time. */
function converter(log: FunctionLog): Promise<BlobEventConverter> {
  opening ??= (async () => {
    const settings = await readSettings();
    const c = await BlobEventConverter.open(settings);
    log.log(`pixbatch: ${c.source.location} -> ${c.destination.location} as ${settings.options.spec.to}, storage by ${settings.connection}`);
    return c;
  })();
  opening.catch(() => (opening = undefined));
  return opening;
}

/** Forgets the open converter, so the next invocation reads the app settings again (tests change them). */
export function resetFunctions(): void {
  opening = undefined;
}

/** Runs one batch and sends the summary to PIXBATCH_NOTIFY when something was converted or failed. */
async function run(events: unknown[], context: InvocationContext): Promise<EventsOutcome> {
  const c = await converter(context);
  const outcome = await c.convert(events, context);
  const { counts } = outcome.summary;
  context.log(`pixbatch: ${counts.converted} converted, ${counts.skipped} skipped, ${counts.failed} failed, ${outcome.ignored} ignored`);
  if (c.settings.notify && counts.converted + counts.failed > 0) {
    const { notifyAll } = await import('../report/notify.js');
    await notifyAll(c.settings.notify, outcome.summary, { retries: 2, warn: (m) => context.warn(redact(m)) });
  }
  return outcome;
}

/**
 * Event Grid trigger handler: one event. A storage or credential failure (or bad settings) throws, so the
 * invocation fails and Event Grid delivers the event again; a bad image is a failed record and does not.
 */
export async function onBlobCreated(event: EventGridEvent, context: InvocationContext): Promise<void> {
  try {
    await run([event], context);
  } catch (err) {
    context.error(`pixbatch: ${redact((err as Error).message ?? String(err))}`);
    throw err;
  }
}

/**
 * WebHook handler: the validation handshake, then a batch of events in either schema. Answers 200 when every
 * blob was handled (converted, skipped or failed for a reason of its own), 500 when storage or the
 * credential failed (Event Grid retries the batch; nothing is converted twice), 400 for a body that is not
 * events (Event Grid does not retry a 400).
 */
export async function onWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  if (request.method === 'OPTIONS') {
    // CloudEvents 1.0 webhook abuse protection: allow the origin that asks.
    const origin = request.headers.get('webhook-request-origin');
    return { status: 200, headers: origin ? { 'WebHook-Allowed-Origin': origin, Allow: 'POST' } : { Allow: 'POST' } };
  }
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return { status: 400, jsonBody: { error: 'Expected a JSON body of Event Grid or CloudEvents events' } };
  }
  const events = Array.isArray(body) ? body : [body];
  const code = validationCode(events);
  if (code !== undefined) {
    context.log('pixbatch: answered the Event Grid subscription validation');
    return { status: 200, jsonBody: { validationResponse: code } };
  }
  try {
    const outcome = await run(events, context);
    const { counts } = outcome.summary;
    return { status: 200, jsonBody: { ...counts, ignored: outcome.ignored } };
  } catch (err) {
    const message = redact((err as Error).message ?? String(err));
    context.error(`pixbatch: ${message}`);
    // Bad settings are fixed by the operator, not by retrying at once; Event Grid still retries a 500 for up to a day.
    return { status: err instanceof UsageError ? 500 : 503, jsonBody: { error: message } };
  }
}

/** The subset of `app` from `@azure/functions` this registers with (the real one, or a test's capture). */
export interface FunctionsApp {
  eventGrid(name: string, options: { handler: typeof onBlobCreated }): void;
  http(name: string, options: { methods: Array<'POST' | 'OPTIONS'>; authLevel: 'function'; route: string; handler: typeof onWebhook }): void;
}

/** Registers both triggers; function names are what the Event Grid subscription's endpoint names. */
export function registerFunctions(app: FunctionsApp): void {
  app.eventGrid('convertBlobCreated', { handler: onBlobCreated });
  // The host loads the app before the first event: telemetry's SDK can load in its thread meanwhile.
  void prestartTelemetry();
  app.http('blobCreatedWebhook', { methods: ['POST', 'OPTIONS'], authLevel: 'function', route: 'pixbatch/events', handler: onWebhook });
}
