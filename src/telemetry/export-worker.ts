// The export thread: loads the OpenTelemetry SDK and exporters, replays the main thread's events as
// spans (with the times they happened) and metrics, and flushes when asked. See recorder.ts for why
// this runs apart from the conversions.
import { parentPort } from 'node:worker_threads';
import { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace, type Attributes, type Counter, type Histogram, type Span } from '@opentelemetry/api';
import type { FromWorker, TelemetryEvent, ToWorker } from './recorder.js';
import { preloadExporters, startSdk, type Sdk } from './sdk.js';
import { FLUSH_MS, IMAGE_SPAN } from './settings.js';

/** The attribute the Azure Monitor exporter reads as the sampling percentage of a span. */
const SAMPLE_RATE = 'microsoft.sample_rate';

const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);

interface Instruments {
  images: Counter;
  bytesIn: Counter;
  bytesOut: Counter;
  duration: Histogram;
}

class Replay {
  private readonly spans = new Map<number, Span>();
  private readonly instruments: Instruments;
  /** Images admitted and not yet done in the main thread, as of its last batch. */
  depth = 0;
  /** On image and stage spans when only a share of images is kept: Application Insights scales its counts (itemCount) by it. */
  private readonly sampled: Attributes;
  /** Counter sums of the batch being applied, by the record's attributes object. */
  private readonly sums = new Map<Attributes, { images: Map<string, number>; bytesIn: number; bytesOut: number }>();

  constructor(
    private readonly sdk: Sdk,
    /** Share of images whose spans the main thread keeps. */
    imageRatio: number,
  ) {
    this.sampled = imageRatio < 1 ? { [SAMPLE_RATE]: imageRatio * 100 } : {};
    const meter = sdk.meter;
    meter
      .createObservableGauge('pixbatch.queue.depth', { description: 'Images admitted and not yet done (reading, waiting for a core, converting or writing)', unit: '{image}' })
      .addCallback((result) => result.observe(this.depth));
    this.instruments = {
      images: meter.createCounter('pixbatch.images', { description: 'Images done, by status (converted, skipped, failed) and failure code', unit: '{image}' }),
      bytesIn: meter.createCounter('pixbatch.bytes.in', { description: 'Bytes read from converted images', unit: 'By' }),
      bytesOut: meter.createCounter('pixbatch.bytes.out', { description: 'Bytes written', unit: 'By' }),
      duration: meter.createHistogram('pixbatch.image.duration', { description: 'Time to read, convert and write one image', unit: 's' }),
    };
  }

  flush(): Promise<void> {
    return this.sdk.flush(FLUSH_MS);
  }

  /** Adds the counter sums of the batch just applied. */
  addSums(): void {
    const i = this.instruments;
    for (const [attributes, sums] of this.sums) {
      for (const [key, n] of sums.images) {
        const [status, code] = key.split('\0');
        i.images.add(n, { ...attributes, 'pixbatch.status': status, ...(code ? { 'pixbatch.failure.code': code } : {}) });
      }
      if (sums.bytesIn) i.bytesIn.add(sums.bytesIn, attributes);
      if (sums.bytesOut) i.bytesOut.add(sums.bytesOut, attributes);
    }
    this.sums.clear();
  }

  apply(e: TelemetryEvent): void {
    const tracer = this.sdk.tracer;
    switch (e[0]) {
      case 'job': {
        const [, id, name, attributes, time] = e;
        // Application Insights names a request that is not an HTTP server span from `ai.operation.name`.
        this.spans.set(id, tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes: { ...attributes, 'ai.operation.name': name }, startTime: time }, ROOT_CONTEXT));
        return;
      }
      case 'image': {
        const [, id, parent, attributes, time] = e;
        const job = this.spans.get(parent);
        if (!job) return;
        this.spans.set(id, tracer.startSpan(IMAGE_SPAN, { kind: SpanKind.INTERNAL, attributes: { ...attributes, ...this.sampled }, startTime: time }, trace.setSpan(ROOT_CONTEXT, job)));
        return;
      }
      case 'stage': {
        const [, parent, name, start, end, failed] = e;
        const image = this.spans.get(parent);
        if (!image) return;
        const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: this.sampled, startTime: start }, trace.setSpan(ROOT_CONTEXT, image));
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end(end);
        return;
      }
      case 'end': {
        const [, id, attributes, error, time] = e;
        const span = this.spans.get(id);
        if (!span) return;
        this.spans.delete(id);
        span.setAttributes(attributes);
        if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
        span.end(time);
        return;
      }
      case 'record': {
        const [, attributes, status, code, bytesIn, bytesOut, seconds] = e;
        // Within one batch the main thread's records of a job share one attributes object (a message
        // keeps shared references), so the counters are summed per object and added once per batch:
        // the SDK hashes the attributes on every call, which is most of what a counter costs.
        let sums = this.sums.get(attributes);
        if (!sums) this.sums.set(attributes, (sums = { images: new Map(), bytesIn: 0, bytesOut: 0 }));
        const key = code ? `${status}\0${code}` : status;
        sums.images.set(key, (sums.images.get(key) ?? 0) + 1);
        if (status !== 'converted') return;
        sums.bytesIn += bytesIn ?? 0;
        sums.bytesOut += bytesOut ?? 0;
        if (seconds !== undefined) this.instruments.duration.record(seconds, attributes);
        return;
      }
    }
  }
}

// Events that arrive before the SDK has started wait here, in order.
const waiting: ToWorker[] = [];
let replay: Replay | undefined;
let queue = Promise.resolve();

async function handle(m: ToWorker): Promise<void> {
  if ('events' in m) {
    replay!.depth = m.depth;
    for (const e of m.events) replay!.apply(e);
    replay!.addSums();
  } else if ('flush' in m) {
    await replay!.flush();
    send({ flushed: m.flush });
  }
}

/** Starts the SDK from the environment the first job saw (a config file may have added to it), with the sampling the main thread decided from it. */
async function start({ start: env, imageRatio }: Extract<ToWorker, { start: unknown }>): Promise<void> {
  // This thread's environment is its own copy: the exporters read their standard variables from it.
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  try {
    await preloading;
    replay = new Replay(await startSdk(process.env), imageRatio);
    for (const m of waiting.splice(0)) queue = queue.then(() => handle(m));
  } catch (err) {
    send({ failed: err instanceof Error ? err.message : String(err) });
  }
}

port.on('message', (m: ToWorker) => {
  if ('start' in m) void start(m);
  else if (!replay) waiting.push(m);
  else queue = queue.then(() => handle(m));
});

// The exporters the process's variables name, loaded now, while the main thread is still starting.
const preloading = preloadExporters(process.env);
