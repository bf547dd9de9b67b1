// The spans and metrics of one job, through the OpenTelemetry API. Loaded only when telemetry is on.
import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT, type Attributes, type Context, type Counter, type Histogram, type Span } from '@opentelemetry/api';
import type { ImageRecord, WorkItem } from '../interfaces.js';
import { redact } from '../store/redact.js';
import type { ImageProbe, ImageStage, JobAttributes, JobKind, PipelineObserver } from './index.js';
import { IMAGE_SPAN, startSdk, type Sdk } from './sdk.js';

/** How long a job waits at its end for its telemetry to be sent: long enough for one retry, never a hang. */
const FLUSH_MS = 10_000;

let sdk: Promise<Sdk> | undefined;

interface Instruments {
  images: Counter;
  bytesIn: Counter;
  bytesOut: Counter;
  duration: Histogram;
}

let instruments: Instruments | undefined;
/** Images admitted and not yet recorded, over every job in this process (read by the queue-depth gauge). */
let inFlight = 0;

function instrumentsOf(s: Sdk): Instruments {
  if (instruments) return instruments;
  const meter = s.meter;
  meter
    .createObservableGauge('pixbatch.queue.depth', { description: 'Images admitted and not yet done (reading, waiting for a core, converting or writing)', unit: '{image}' })
    .addCallback((result) => result.observe(inFlight));
  instruments = {
    images: meter.createCounter('pixbatch.images', { description: 'Images done, by status (converted, skipped, failed) and failure code', unit: '{image}' }),
    bytesIn: meter.createCounter('pixbatch.bytes.in', { description: 'Bytes read from converted images', unit: 'By' }),
    bytesOut: meter.createCounter('pixbatch.bytes.out', { description: 'Bytes written', unit: 'By' }),
    duration: meter.createHistogram('pixbatch.image.duration', { description: 'Time to read, convert and write one image', unit: 's' }),
  };
  return instruments;
}

/** Image names can be personal data: they are sent only when the user says so. */
const namesAllowed = () => process.env.PIXBATCH_TELEMETRY_NAMES === '1';

function jobSpanAttributes(kind: JobKind, a: JobAttributes): Attributes {
  const out: Attributes = { 'pixbatch.job.kind': kind };
  if (a.jobId) out['pixbatch.job.id'] = a.jobId;
  if (a.taskId) out['pixbatch.task.id'] = a.taskId;
  if (a.nodeId) out['pixbatch.node.id'] = a.nodeId;
  if (a.format) out['pixbatch.format'] = a.format;
  if (a.preset) out['pixbatch.preset'] = a.preset;
  return out;
}

class Probe implements ImageProbe {
  constructor(
    readonly span: Span,
    private readonly tracer: Sdk['tracer'],
  ) {}

  async stage<T>(name: ImageStage, fn: () => Promise<T>): Promise<T> {
    if (!this.span.isRecording()) return fn();
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, trace.setSpan(ROOT_CONTEXT, this.span));
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  }
}

class JobObserver implements PipelineObserver {
  private readonly context: Context;
  /** Images started and not recorded: a job stopped by a storage fault leaves some. */
  private readonly open = new Set<Probe>();
  private readonly metricAttributes: Attributes;

  constructor(
    private readonly s: Sdk,
    private readonly instruments: Instruments,
    jobSpan: Span,
    kind: JobKind,
    a: JobAttributes,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, jobSpan);
    // Metric dimensions stay few (no ids), so charts stay cheap and readable.
    this.metricAttributes = { 'pixbatch.job.kind': kind, ...(a.format ? { 'pixbatch.format': a.format } : {}), ...(a.preset ? { 'pixbatch.preset': a.preset } : {}) };
  }

  started(item: WorkItem): ImageProbe {
    inFlight++;
    const span = this.s.tracer.startSpan(
      IMAGE_SPAN,
      { kind: SpanKind.INTERNAL, attributes: namesAllowed() ? { 'pixbatch.image.name': item.name } : undefined },
      this.context,
    );
    const probe = new Probe(span, this.s.tracer);
    this.open.add(probe);
    return probe;
  }

  /** Ends what a stopped job left open, so the queue-depth gauge of a long-lived process goes back down. */
  close(): void {
    for (const probe of this.open) {
      probe.span.setStatus({ code: SpanStatusCode.ERROR, message: 'job stopped' });
      probe.span.end();
    }
    inFlight -= this.open.size;
    this.open.clear();
  }

  recorded(record: ImageRecord, probe?: ImageProbe): void {
    const attributes: Attributes = { ...this.metricAttributes, 'pixbatch.status': record.status, ...(record.code ? { 'pixbatch.failure.code': record.code } : {}) };
    const i = this.instruments;
    i.images.add(1, attributes);
    if (record.status === 'converted') {
      if (record.bytesIn) i.bytesIn.add(record.bytesIn, this.metricAttributes);
      if (record.bytesOut) i.bytesOut.add(record.bytesOut, this.metricAttributes);
      if (record.ms !== undefined) i.duration.record(record.ms / 1000, this.metricAttributes);
    }
    if (!(probe instanceof Probe) || !this.open.delete(probe)) return;
    inFlight--;
    const span = probe.span;
    if (!span.isRecording()) return;
    span.setAttributes({
      'pixbatch.status': record.status,
      ...(record.code ? { 'pixbatch.failure.code': record.code } : {}),
      ...(record.bytesIn !== undefined ? { 'pixbatch.bytes.in': record.bytesIn } : {}),
      ...(record.bytesOut !== undefined ? { 'pixbatch.bytes.out': record.bytesOut } : {}),
      ...(record.width !== undefined ? { 'pixbatch.image.width': record.width, 'pixbatch.image.height': record.height ?? 0 } : {}),
    });
    // A reason names the image or output, so it goes with names only.
    if (record.status === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: namesAllowed() && record.reason ? redact(record.reason) : record.code });
    span.end();
  }
}

/** What a job's span says at its end, beyond the attributes it started with. */
export type JobResultAttributes = JobAttributes & { counts?: Record<string, number>; bytesIn?: number; bytesOut?: number };

/** `withJobSpan` once telemetry is on: starts the SDK the first time, then one span per job. */
export async function runJob<T>(
  kind: JobKind,
  attributes: JobAttributes,
  run: (observer: PipelineObserver | undefined) => Promise<T>,
  describeResult?: (result: T) => JobResultAttributes,
): Promise<T> {
  const s = await (sdk ??= startSdk());
  const name = `pixbatch ${kind}`;
  // Application Insights names a request that is not an HTTP server span from `ai.operation.name`.
  const span = s.tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes: { ...jobSpanAttributes(kind, attributes), 'ai.operation.name': name } }, ROOT_CONTEXT);
  const observer = new JobObserver(s, instrumentsOf(s), span, kind, attributes);
  try {
    const result = await run(observer);
    const more = describeResult?.(result);
    if (more) {
      span.setAttributes(jobSpanAttributes(kind, more));
      for (const [k, v] of Object.entries(more.counts ?? {})) span.setAttribute(`pixbatch.images.${k}`, v);
      if (more.bytesIn !== undefined) span.setAttribute('pixbatch.bytes.in', more.bytesIn);
      if (more.bytesOut !== undefined) span.setAttribute('pixbatch.bytes.out', more.bytesOut);
    }
    return result;
  } catch (err) {
    // The message only: locations in it are already redacted, and a stack says nothing an operator needs.
    span.setStatus({ code: SpanStatusCode.ERROR, message: redact(err instanceof Error ? err.message : String(err)) });
    throw err;
  } finally {
    observer.close();
    span.end();
    await s.flush(FLUSH_MS);
  }
}
