/**
 * Loopback stand-ins for where telemetry goes: the Application Insights ingestion endpoint (the Track
 * API, `POST /v2.1/track` with a JSON array of envelopes, gzip-compressed or not, answered with a
 * TrackResponse as the service defines it in the Application Insights data-plane OpenAPI definition)
 * and an OTLP/HTTP receiver (`POST /v1/traces`, `/v1/metrics`, http/json or http/protobuf).
 *
 * @example
 * const ai = await startIngestion();
 * env.APPLICATIONINSIGHTS_CONNECTION_STRING = ai.connectionString;
 * ... run ...
 * ai.envelopes.filter((e) => e.name.endsWith('.Request'));
 * await ai.stop();
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { makeCertificate, type Certificate } from './certificate.js';
import { startLoopbackServer } from './loopback-server.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The body as sent, decompressed when it was gzip-encoded. */
  body: Buffer;
}

/** One Application Insights envelope (only the fields the tests read). */
export interface Envelope {
  name: string;
  iKey?: string;
  time?: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> & { properties?: Record<string, string>; metrics?: Array<{ name: string; value: number; count?: number }> } };
}

interface Sink {
  requests: ReceivedRequest[];
  port: number;
  stop(): Promise<void>;
}

async function listen(
  handle: (req: ReceivedRequest) => { status: number; body: string; type?: string },
  tls?: Certificate,
  keep = true,
): Promise<Sink & { server: Server }> {
  const requests: ReceivedRequest[] = [];
  const { server, port, stop } = await startLoopbackServer(
    (req, res, body) => {
      const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      if (keep) requests.push(received);
      const answer = handle(received);
      res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' });
      res.end(answer.body);
    },
    { tls, gunzip: true, cleanup: () => tls?.remove() },
  );
  return { server, requests, port, stop };
}

export interface Ingestion extends Sink {
  /** `InstrumentationKey=…;IngestionEndpoint=https://127.0.0.1:PORT/` */
  connectionString: string;
  /** The throw-away certificate it serves: give child processes `NODE_EXTRA_CA_CERTS=certPath`. */
  certPath: string;
  instrumentationKey: string;
  /** Every envelope received on the Track API, in order. */
  readonly envelopes: Envelope[];
}

/**
 * An Application Insights ingestion endpoint that accepts every envelope. It serves HTTPS: the exporter
 * sends to `https://` whatever scheme the connection string names. Each one has its own instrumentation
 * key, so envelopes another run left in the exporter's offline storage never arrive here.
 */
export async function startIngestion(): Promise<Ingestion> {
  const tls = makeCertificate();
  const sink = await listen((req) => {
    if (req.method !== 'POST' || !req.path.startsWith('/v2.1/track')) return { status: 404, body: '{}' };
    const items = parseEnvelopes(req.body);
    return { status: 200, body: JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }) };
  }, tls);
  const instrumentationKey = randomUUID();
  return {
    ...sink,
    instrumentationKey,
    certPath: tls.certPath,
    connectionString: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=https://127.0.0.1:${sink.port}/;LiveEndpoint=https://127.0.0.1:${sink.port}/`,
    get envelopes() {
      return sink.requests.filter((r) => r.path.startsWith('/v2.1/track')).flatMap((r) => parseEnvelopes(r.body));
    },
  };
}

/** The Track API takes a JSON array of envelopes, or one envelope per line. */
function parseEnvelopes(body: Buffer): Envelope[] {
  const text = body.toString('utf8').trim();
  if (!text) return [];
  if (text.startsWith('[')) return JSON.parse(text) as Envelope[];
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Envelope);
}

export interface OtlpReceiver extends Sink {
  /** `http://127.0.0.1:PORT` for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
}

/**
 * An OTLP/HTTP receiver that accepts every export (an empty ExportServiceResponse). With `keep: false`
 * it answers without keeping what it got (`requests` stays empty), for a benchmark's long runs.
 */
export async function startOtlpReceiver({ keep = true }: { keep?: boolean } = {}): Promise<OtlpReceiver> {
  const sink = await listen((req) => {
    if (req.method !== 'POST' || !/^\/v1\/(traces|metrics|logs)$/.test(req.path)) return { status: 404, body: '{}' };
    const json = String(req.headers['content-type'] ?? '').includes('json');
    return json ? { status: 200, body: '{}' } : { status: 200, body: '', type: 'application/x-protobuf' };
  }, undefined, keep);
  return { ...sink, endpoint: `http://127.0.0.1:${sink.port}` };
}

/** An OTLP attribute as http/json carries it (int64 values arrive as strings). */
export interface OtlpJsonAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
}

/** A span of an http/json trace export (only the fields the tests read), with its resource's attributes. */
export interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpJsonAttribute[];
  status?: { code?: number; message?: string };
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  resource: Record<string, string | number | boolean>;
}

/** Attributes as a plain object, numbers as numbers. */
export function otlpAttributes(list: OtlpJsonAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value: v } of list ?? []) out[key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue ?? ''));
  return out;
}

/** Every span of the http/json trace exports a receiver got, in order. */
export function otlpJsonSpans(receiver: Pick<Sink, 'requests'>): OtlpJsonSpan[] {
  type Doc = { resourceSpans?: Array<{ resource?: { attributes?: OtlpJsonAttribute[] }; scopeSpans?: Array<{ spans?: Array<Omit<OtlpJsonSpan, 'resource'>> }> }> };
  return receiver.requests
    .filter((q) => q.path === '/v1/traces')
    .flatMap((q) => (JSON.parse(q.body.toString()) as Doc).resourceSpans ?? [])
    .flatMap((rs) => {
      const resource = otlpAttributes(rs.resource?.attributes);
      return (rs.scopeSpans ?? []).flatMap((s) => (s.spans ?? []).map((span) => ({ ...span, resource })));
    });
}
