// Telemetry through the real exporters: `pixbatch convert` runs as a child process with the
// variables a user sets, and loopback stand-ins of the Application Insights ingestion endpoint and
// an OTLP receiver record what the exporters really sent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, type Report, type Summary } from '../src/index.js';
import { telemetryEnabled, telemetryEnvironment } from '../src/telemetry/index.js';
import { samplingFrom } from '../src/telemetry/settings.js';
import { entraCredential } from '../src/telemetry/azure-monitor.js';
import { jsonFrom, runPixbatch } from './harness/cli.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { otlpAttributes, otlpJsonSpans, startIngestion, startOtlpReceiver, type Ingestion, type OtlpJsonAttribute, type OtlpJsonSpan } from './harness/telemetry-sinks.js';
import { jpegBuffer } from './harness/images.js';
import { startTokenEndpoint } from './harness/token-endpoint.js';

let root: string;
let mixed: string;
let names: string[];

/** Variables of the test process that would send telemetry elsewhere are not inherited. */
const quiet = { APPLICATIONINSIGHTS_CONNECTION_STRING: '', OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_TRACES_SAMPLER: '', OTEL_TRACES_SAMPLER_ARG: '', PIXBATCH_TELEMETRY_NAMES: '' };

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-telemetry-'));
  mixed = join(root, 'mixed');
  const g = await generate({ destination: mixed, count: 4, size: '64x48', seed: 11, corrupt: 2 });
  names = [...g.files, ...g.corrupt];
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

// ---- OTLP/HTTP JSON, as the OpenTelemetry protocol specification defines it ----

interface OtlpDataPoint {
  attributes?: OtlpJsonAttribute[];
  asInt?: string | number;
  asDouble?: number;
  count?: string | number;
  sum?: number;
}
interface OtlpMetric {
  name: string;
  sum?: { dataPoints: OtlpDataPoint[] };
  histogram?: { dataPoints: OtlpDataPoint[] };
  gauge?: { dataPoints: OtlpDataPoint[] };
}

/** The last exported value of each metric stream (OTLP metrics are cumulative by default). */
function otlpMetrics(bodies: Buffer[]): Map<string, OtlpMetric> {
  const out = new Map<string, OtlpMetric>();
  for (const b of bodies) {
    const doc = JSON.parse(b.toString()) as { resourceMetrics?: Array<{ scopeMetrics?: Array<{ metrics?: OtlpMetric[] }> }> };
    for (const r of doc.resourceMetrics ?? []) for (const s of r.scopeMetrics ?? []) for (const m of s.metrics ?? []) out.set(m.name, m);
  }
  return out;
}

const pointValue = (p: OtlpDataPoint) => Number(p.asInt ?? p.asDouble ?? 0);

describe('OTLP export', () => {
  test('sends one job span, a span per image with read/convert/write children, and counters that match the summary', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const report = join(root, 'otlp-report.json');
      const r = await runPixbatch(['convert', mixed, join(root, 'out-otlp'), '--json', '--quiet', '--report', report], {
        env: { ...quiet, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      });
      assert.equal(r.code, 1, r.stderr);
      const summary = jsonFrom(r, { whole: true }) as Summary;
      const images = (JSON.parse(await readFile(report, 'utf8')) as Report).images;
      assert.equal(summary.counts.converted, 4);
      assert.equal(summary.counts.failed, 2);

      const traces = otlp.requests.filter((q) => q.path === '/v1/traces');
      assert.ok(traces.length > 0, 'no trace export arrived');
      for (const q of traces) assert.match(String(q.headers['content-type']), /application\/json/);
      const spans = otlpJsonSpans(otlp);
      const jobs = spans.filter((s) => s.name === 'pixbatch local');
      assert.equal(jobs.length, 1);
      const job = jobs[0]!;
      const jobAttrs = otlpAttributes(job.attributes);
      assert.equal(jobAttrs['pixbatch.format'], 'png');
      assert.equal(jobAttrs['pixbatch.preset'], summary.spec?.preset);
      assert.equal(jobAttrs['pixbatch.images.converted'], summary.counts.converted);
      assert.equal(jobAttrs['pixbatch.images.failed'], summary.counts.failed);
      assert.equal(jobAttrs['pixbatch.bytes.out'], summary.bytesOut);
      assert.equal(job.parentSpanId || undefined, undefined);

      const perImage = spans.filter((s) => s.name === 'pixbatch image');
      assert.equal(perImage.length, images.filter((i) => i.status !== 'skipped').length);
      for (const s of perImage) assert.equal(s.parentSpanId, job.spanId);
      const converted = perImage.filter((s) => otlpAttributes(s.attributes)['pixbatch.status'] === 'converted');
      assert.equal(converted.length, 4);
      assert.equal(converted.reduce((n, s) => n + Number(otlpAttributes(s.attributes)['pixbatch.bytes.out']), 0), summary.bytesOut);
      const failedCodes = perImage.filter((s) => s.status?.code === 2).map((s) => otlpAttributes(s.attributes)['pixbatch.failure.code']).sort();
      assert.deepEqual(failedCodes, summary.failures.map((f) => f.code).sort());
      // Every converted image has its three stages as children.
      for (const img of converted) {
        const stages = spans.filter((s) => s.parentSpanId === img.spanId).map((s) => s.name).sort();
        assert.deepEqual(stages, ['convert', 'read', 'write']);
      }
      // The export thread replays spans with the times they happened on the main thread: each stage
      // lies within its image, each image within the job, and the job lasts at least the summary's time.
      const t = (s: OtlpJsonSpan) => ({ start: BigInt(s.startTimeUnixNano), end: BigInt(s.endTimeUnixNano) });
      const within = (inner: OtlpJsonSpan, outer: OtlpJsonSpan) => t(inner).start >= t(outer).start && t(inner).end <= t(outer).end && t(inner).start <= t(inner).end;
      for (const img of perImage) {
        assert.ok(within(img, job), `image span outside the job span`);
        for (const stage of spans.filter((s) => s.parentSpanId === img.spanId)) assert.ok(within(stage, img), `${stage.name} outside its image span`);
      }
      assert.ok(Number(t(job).end - t(job).start) / 1e9 >= summary.seconds - 0.002, `job span ${t(job).end - t(job).start} ns, summary ${summary.seconds} s`);
      // Image names are personal data: not sent unless PIXBATCH_TELEMETRY_NAMES=1.
      const sent = otlp.requests.map((q) => q.body.toString()).join('\n');
      for (const name of names) assert.ok(!sent.includes(name.split('/').pop()!), `${name} was sent`);

      const metrics = otlpMetrics(otlp.requests.filter((q) => q.path === '/v1/metrics').map((q) => q.body));
      const byStatus: Record<string, number> = {};
      for (const p of metrics.get('pixbatch.images')?.sum?.dataPoints ?? []) {
        const a = otlpAttributes(p.attributes);
        const key = a['pixbatch.failure.code'] ? `${a['pixbatch.status']}:${a['pixbatch.failure.code']}` : String(a['pixbatch.status']);
        byStatus[key] = (byStatus[key] ?? 0) + pointValue(p);
      }
      const expected: Record<string, number> = { converted: summary.counts.converted };
      for (const f of summary.failures) expected[`failed:${f.code}`] = (expected[`failed:${f.code}`] ?? 0) + 1;
      assert.deepEqual(byStatus, expected);
      const total = (name: string) => (metrics.get(name)?.sum?.dataPoints ?? []).reduce((n, p) => n + pointValue(p), 0);
      assert.equal(total('pixbatch.bytes.in'), summary.bytesIn);
      assert.equal(total('pixbatch.bytes.out'), summary.bytesOut);
      const histogram = metrics.get('pixbatch.image.duration')?.histogram?.dataPoints ?? [];
      assert.equal(histogram.reduce((n, p) => n + Number(p.count ?? 0), 0), summary.counts.converted);
      const depth = metrics.get('pixbatch.queue.depth')?.gauge?.dataPoints ?? [];
      assert.ok(depth.length > 0, 'queue depth gauge missing');
      assert.equal(pointValue(depth[depth.length - 1]!), 0, 'nothing is in flight once the job ended');
    } finally {
      await otlp.stop();
    }
  });

  test('OTEL_TRACES_SAMPLER_ARG=0 keeps the job span and drops every image span, while the counters still count every image', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const r = await runPixbatch(['convert', mixed, join(root, 'out-sampled'), '--json', '--quiet'], {
        env: {
          ...quiet,
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0.0',
          PIXBATCH_TELEMETRY_NAMES: '1',
        },
      });
      assert.equal(r.code, 1, r.stderr);
      const summary = jsonFrom(r, { whole: true }) as Summary;
      const spans = otlpJsonSpans(otlp);
      assert.deepEqual(spans.map((s) => s.name), ['pixbatch local']);
      const metrics = otlpMetrics(otlp.requests.filter((q) => q.path === '/v1/metrics').map((q) => q.body));
      const counted = (metrics.get('pixbatch.images')?.sum?.dataPoints ?? []).reduce((n, p) => n + pointValue(p), 0);
      assert.equal(counted, summary.counts.total);
    } finally {
      await otlp.stop();
    }
  });

  test('with a share of images sampled, kept image and step spans carry the sampling percentage, and the job span does not', async () => {
    const otlp = await startOtlpReceiver();
    try {
      // A ratio just under 1: every image is all but certainly kept, and each says it stands for 1/ratio images.
      const r = await runPixbatch(['convert', mixed, join(root, 'out-rate'), '--quiet'], {
        env: { ...quiet, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.99999999' },
      });
      assert.equal(r.code, 1, r.stderr);
      const spans = otlpJsonSpans(otlp);
      const job = spans.filter((s) => s.name === 'pixbatch local');
      assert.equal(job.length, 1);
      assert.equal(otlpAttributes(job[0]!.attributes)['microsoft.sample_rate'], undefined);
      const sampled = spans.filter((s) => s.name !== 'pixbatch local');
      assert.ok(sampled.some((s) => s.name === 'pixbatch image') && sampled.some((s) => s.name === 'convert'), sampled.map((s) => s.name).join(', '));
      for (const s of sampled) {
        const rate = otlpAttributes(s.attributes)['microsoft.sample_rate'];
        assert.ok(typeof rate === 'number' && Math.abs(rate - 99.999999) < 1e-6, `${s.name}: ${rate}`);
      }
    } finally {
      await otlp.stop();
    }
  });

  test('http/protobuf, the default protocol, posts protobuf bodies to /v1/traces and /v1/metrics', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const r = await runPixbatch(['convert', mixed, join(root, 'out-proto'), '--quiet'], { env: { ...quiet, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint } });
      assert.equal(r.code, 1, r.stderr);
      const paths = new Set(otlp.requests.map((q) => q.path));
      assert.ok(paths.has('/v1/traces') && paths.has('/v1/metrics'), [...paths].join(', '));
      for (const q of otlp.requests) assert.equal(q.headers['content-type'], 'application/x-protobuf');
      // The span name is a string field of the protobuf message, readable as bytes.
      assert.ok(otlp.requests.some((q) => q.body.includes('pixbatch local')));
    } finally {
      await otlp.stop();
    }
  });
});

// ---- Application Insights ----

/** The exporter's own usage reports (statsbeat) would go to Microsoft's hosts: not from a test. */
const aiEnv = (ai: Ingestion) => ({ APPLICATIONINSIGHTS_CONNECTION_STRING: ai.connectionString, NODE_EXTRA_CA_CERTS: ai.certPath, APPLICATION_INSIGHTS_NO_STATSBEAT: 'true' });

describe('Application Insights export', () => {
  let az: Azurite;
  before(async () => {
    az = await startAzurite();
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('photos');
    await container.create();
    for (let i = 0; i < 3; i++) {
      const data = await jpegBuffer(48, 32, i + 1);
      await container.getBlockBlobClient(`holiday/person-${i}.jpg`).uploadData(data);
    }
    await container.getBlockBlobClient('holiday/person-broken.jpg').uploadData(Buffer.from('not a picture'));
  });
  after(async () => {
    await az?.stop();
  });

  test('the exporter posts to IngestionEndpoint a request for the job, a dependency per image and metrics that match the summary, with no key, SAS or name', async () => {
    const ai = await startIngestion();
    try {
      const report = join(root, 'ai-report.json');
      const r = await runPixbatch(['convert', 'az://photos/holiday', join(root, 'out-ai'), '--json', '--quiet', '--report', report], {
        env: { ...quiet, AZURE_STORAGE_CONNECTION_STRING: az.connectionString, ...aiEnv(ai) },
      });
      assert.equal(r.code, 1, r.stderr);
      const summary = jsonFrom(r, { whole: true }) as Summary;
      assert.deepEqual(summary.counts, { total: 4, converted: 3, skipped: 0, failed: 1 });

      const tracks = ai.requests.filter((q) => q.path.startsWith('/v2.1/track'));
      assert.ok(tracks.length > 0, `no Track request arrived (got ${ai.requests.map((q) => q.path).join(', ')})`);
      const envelopes = ai.envelopes;
      for (const e of envelopes) assert.equal(e.iKey, ai.instrumentationKey);
      const requests = envelopes.filter((e) => e.data?.baseType === 'RequestData');
      assert.equal(requests.length, 1, 'one request (the job)');
      const job = requests[0]!.data!.baseData!;
      assert.equal(job.name, 'pixbatch local');
      assert.equal(job.properties?.['pixbatch.images.converted'], String(summary.counts.converted));
      assert.equal(job.properties?.['pixbatch.images.failed'], String(summary.counts.failed));
      assert.equal(job.properties?.['pixbatch.bytes.in'], String(summary.bytesIn));

      const deps = envelopes.filter((e) => e.data?.baseType === 'RemoteDependencyData');
      const images = deps.filter((e) => e.data!.baseData!.name === 'pixbatch image');
      assert.equal(images.length, 4);
      const operation = requests[0]!.tags?.['ai.operation.id'];
      for (const d of images) assert.equal(d.tags?.['ai.operation.id'], operation, 'image records belong to the job operation');
      const failed = images.filter((d) => d.data!.baseData!.success === false);
      assert.deepEqual(
        failed.map((d) => d.data!.baseData!.properties?.['pixbatch.failure.code']),
        summary.failures.map((f) => f.code),
      );
      // Three steps for each converted image; the broken one is read, then fails to convert.
      const steps = deps.filter((e) => ['read', 'convert', 'write'].includes(String(e.data!.baseData!.name)));
      assert.equal(steps.length, 3 * 3 + 2);
      assert.deepEqual(steps.filter((e) => e.data!.baseData!.success === false).map((e) => e.data!.baseData!.name), ['convert']);

      const metricSum = (name: string, where: (p: Record<string, string>) => boolean = () => true) =>
        envelopes
          .filter((e) => e.data?.baseType === 'MetricData')
          .flatMap((e) => (where(e.data!.baseData!.properties ?? {}) ? (e.data!.baseData!.metrics ?? []) : []))
          .filter((m) => m.name === name)
          .reduce((n, m) => n + m.value, 0);
      assert.equal(metricSum('pixbatch.images', (p) => p['pixbatch.status'] === 'converted'), summary.counts.converted);
      assert.equal(metricSum('pixbatch.images', (p) => p['pixbatch.status'] === 'failed' && p['pixbatch.failure.code'] === summary.failures[0]!.code), 1);
      assert.equal(metricSum('pixbatch.bytes.in'), summary.bytesIn);
      assert.equal(metricSum('pixbatch.bytes.out'), summary.bytesOut);

      const sent = ai.requests.map((q) => q.body.toString()).join('\n');
      assert.ok(!sent.includes(az.accountKey), 'the storage account key was sent');
      assert.ok(!/AccountKey=|[?&]sig=/i.test(sent), 'a key or SAS signature was sent');
      assert.ok(!sent.includes('person-'), 'an image name was sent without PIXBATCH_TELEMETRY_NAMES=1');
      const reportImages = (JSON.parse(await readFile(report, 'utf8')) as Report).images;
      assert.equal(reportImages.length, 4);
    } finally {
      await ai.stop();
    }
  });

  test('with PIXBATCH_TELEMETRY_NAMES=1 each image record carries its name', async () => {
    const ai = await startIngestion();
    try {
      const r = await runPixbatch(['convert', 'az://photos/holiday', join(root, 'out-ai-names'), '--quiet'], {
        env: { ...quiet, AZURE_STORAGE_CONNECTION_STRING: az.connectionString, ...aiEnv(ai), PIXBATCH_TELEMETRY_NAMES: '1' },
      });
      assert.equal(r.code, 1, r.stderr);
      const named = ai.envelopes.filter((e) => e.data?.baseType === 'RemoteDependencyData').map((e) => e.data!.baseData!.properties?.['pixbatch.image.name']).filter(Boolean);
      assert.deepEqual(named.sort(), ['person-0.jpg', 'person-1.jpg', 'person-2.jpg', 'person-broken.jpg']);
    } finally {
      await ai.stop();
    }
  });
});

describe('Application Insights with Microsoft Entra ID', () => {
  test('Authorization=AAD;ClientId=… signs in with that managed identity and sends a bearer token for Azure Monitor', async () => {
    const ai = await startIngestion();
    const idp = await startTokenEndpoint({ clientIds: ['pixbatch-telemetry-identity'], audience: 'https://monitor.azure.com' });
    try {
      const r = await runPixbatch(['convert', mixed, join(root, 'out-entra'), '--quiet'], {
        env: {
          ...quiet,
          ...aiEnv(ai),
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=pixbatch-telemetry-identity',
          AZURE_POD_IDENTITY_AUTHORITY_HOST: idp.url,
          AZURE_CLIENT_ID: 'another-identity',
        },
      });
      assert.equal(r.code, 1, r.stderr);
      const tokenAsks = idp.requests.filter((q) => q.path === '/metadata/identity/oauth2/token');
      assert.ok(tokenAsks.length > 0, 'no token was asked for');
      for (const q of tokenAsks) {
        assert.equal(q.query.client_id, 'pixbatch-telemetry-identity');
        // The Azure Monitor ingestion audience (scope https://monitor.azure.com//.default).
        assert.match(q.query.resource ?? '', /^https:\/\/monitor\.azure\.com\/?$/);
      }
      const tracks = ai.requests.filter((q) => q.path.startsWith('/v2.1/track'));
      assert.ok(tracks.length > 0, 'nothing was sent');
      for (const q of tracks) assert.match(String(q.headers.authorization), /^Bearer [\w-]+\.[\w-]+\./);
      assert.ok(ai.envelopes.some((e) => e.data?.baseType === 'RequestData'));
    } finally {
      await idp.stop();
      await ai.stop();
    }
  });
});

describe('when the exporter cannot start', () => {
  test('the run loses its telemetry, with one line saying so, never its conversions or its exit code', async () => {
    // The Azure Monitor exporter refuses an instrumentation key that is not a GUID when it starts,
    // in the export thread, after the main thread's checks have passed.
    const out = join(root, 'out-broken-exporter');
    const r = await runPixbatch(['convert', mixed, out, '--json', '--quiet'], {
      env: { ...quiet, APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=not-a-key;IngestionEndpoint=https://127.0.0.1:9/' },
    });
    assert.equal(r.code, 1, r.stderr); // two of the six images are corrupt, as without telemetry
    const summary = jsonFrom(r, { whole: true }) as Summary;
    assert.equal(summary.counts.converted, 4);
    assert.match(r.stderr, /^pixbatch: telemetry is off for the rest of this run: .*instrumentation key/im);
    assert.equal(r.stderr.match(/telemetry is off/g)?.length, 1);
  });
});

describe('telemetry settings', () => {
  test('is off unless an exporter variable is set, and OTEL_SDK_DISABLED=true turns it off', () => {
    assert.equal(telemetryEnabled({}), false);
    assert.equal(telemetryEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
    assert.equal(telemetryEnabled({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x' }), true);
    assert.equal(telemetryEnabled({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x', OTEL_SDK_DISABLED: 'true' }), false);
  });

  test('Batch tasks get the telemetry variables the submitter has, but never the OTLP headers', () => {
    const env = {
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=secret',
      AZURE_STORAGE_KEY: 'secret',
    };
    assert.deepEqual(telemetryEnvironment(env), [
      { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: 'InstrumentationKey=x' },
      { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' },
      { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.1' },
    ]);
    assert.deepEqual(telemetryEnvironment({ OTEL_TRACES_SAMPLER_ARG: '0.1' }), []);
  });

  test("a schedule's job manager task carries the submitter's telemetry variables, and only when they are set", async () => {
    const { scheduleSpec } = await import('../src/batch/schedule.js');
    const settings = {
      scheduleId: 'nightly', source: 'https://acct.blob.core.windows.net/images', destination: 'https://acct.blob.core.windows.net/converted',
      conversion: {}, shardSize: 'auto', roundRobin: false, pool: { id: 'pool1', shape: { nodes: 1, cores: 2, slotsPerNode: 1 } },
      maxTaskRetryCount: 3, maxWallClockTime: 'PT1H', identityClientId: 'client-id-1',
      bundle: { url: 'https://acct.blob.core.windows.net/scripts/b.tar.gz', sha256: 'ab'.repeat(32), version: '0.1.0' },
    } as Parameters<typeof scheduleSpec>[0];
    const names = () => (scheduleSpec(settings, { every: 'PT1H' }).jobSpecification.jobManagerTask?.environmentSettings ?? []).map((e) => e.name);
    const before = { ...process.env };
    try {
      for (const k of Object.keys(quiet)) delete process.env[k];
      assert.ok(!names().some((n) => n.startsWith('APPLICATIONINSIGHTS_') || n.startsWith('OTEL_')));
      process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = 'InstrumentationKey=x';
      process.env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
      assert.deepEqual(names().filter((n) => n.startsWith('APPLICATIONINSIGHTS_') || n.startsWith('OTEL_')), ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'OTEL_TRACES_SAMPLER']);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in before)) delete process.env[k];
      Object.assign(process.env, before);
    }
  });

  test('reads the standard sampler variables and names the one at fault', () => {
    assert.deepEqual(samplingFrom({}), { jobs: true, images: 1 });
    assert.deepEqual(samplingFrom({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }), { jobs: true, images: 0.25 });
    assert.deepEqual(samplingFrom({ OTEL_TRACES_SAMPLER: 'always_off' }), { jobs: false, images: 0 });
    assert.throws(() => samplingFrom({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }), /between 0 and 1 for OTEL_TRACES_SAMPLER_ARG but received "2"/);
    assert.throws(() => samplingFrom({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }), /for OTEL_TRACES_SAMPLER but received "jaeger_remote"/);
  });

  test('APPLICATIONINSIGHTS_AUTHENTICATION_STRING must say Authorization=AAD; unset means the key alone', async () => {
    assert.equal(await entraCredential({}), undefined);
    assert.ok(await entraCredential({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555' }));
    await assert.rejects(entraCredential({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=Key' }), /Expected "Authorization=AAD".*received "Authorization=Key"/);
  });
});
