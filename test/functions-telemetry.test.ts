// The Functions handler with an exporter in its app settings: one span per invocation, named by the
// invocation id. A file of its own: the telemetry SDK starts once per process, bound to this file's sink.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import functions from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { onBlobCreated, resetFunctions } from '../src/functions/app.js';
import { withJobSpan } from '../src/telemetry/index.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { blobCreatedEvent } from './harness/event-grid.js';
import { jpegBuffer } from './harness/images.js';
import { startOtlpReceiver, type OtlpReceiver } from './harness/telemetry-sinks.js';

const { InvocationContext } = functions;
const SETTINGS = ['PIXBATCH_STORAGE', 'PIXBATCH_SOURCE', 'PIXBATCH_DESTINATION', 'PIXBATCH_CONCURRENCY', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL'];
const saved = new Map(SETTINGS.map((k) => [k, process.env[k]]));

let az: Azurite;
let otlp: OtlpReceiver;

before(async () => {
  [az, otlp] = await Promise.all([startAzurite(), startOtlpReceiver()]);
  const images = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('images');
  await images.create();
  await images.getBlockBlobClient('incoming/a.jpg').uploadData(await jpegBuffer(40, 30, 1));
  Object.assign(process.env, {
    PIXBATCH_STORAGE: az.connectionString,
    PIXBATCH_SOURCE: 'az://images/incoming',
    PIXBATCH_DESTINATION: 'az://converted/out',
    PIXBATCH_CONCURRENCY: '2',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  });
  resetFunctions();
  // Run from the sources, the export thread compiles the SDK through tsx (a build loads one bundle),
  // which can take several seconds on a busy machine: a first job here has it loaded before the
  // invocation, so the invocation's own flush is not spent waiting for it.
  await withJobSpan('local', {}, async () => undefined);
});

after(async () => {
  for (const [k, v] of saved) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  resetFunctions();
  await Promise.all([az?.stop(), otlp?.stop()]);
});

test('each invocation is one "pixbatch function" span with its invocation id, and its image a child span', async () => {
  const context = new InvocationContext({ functionName: 'pixbatchBlobCreated', invocationId: 'inv-0001', logHandler: () => undefined });
  const event = blobCreatedEvent({ account: az.accountName, container: 'images', blob: 'incoming/a.jpg', blobEndpoint: az.blobEndpoint });
  await onBlobCreated(event as never, context);

  type Span = { spanId: string; parentSpanId?: string; name: string; attributes?: Array<{ key: string; value: { stringValue?: string } }> };
  const spans = otlp.requests
    .filter((q) => q.path === '/v1/traces')
    .flatMap((q) => (JSON.parse(q.body.toString()) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Span[] }> }> }).resourceSpans)
    .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const jobs = spans.filter((s) => s.name === 'pixbatch function');
  assert.equal(jobs.length, 1, `spans: ${spans.map((s) => s.name).join(', ')}`);
  const id = jobs[0]!.attributes?.find((a) => a.key === 'pixbatch.job.id')?.value.stringValue;
  assert.equal(id, 'inv-0001');
  const images = spans.filter((s) => s.name === 'pixbatch image');
  assert.equal(images.length, 1);
  assert.equal(images[0]!.parentSpanId, jobs[0]!.spanId);
});
