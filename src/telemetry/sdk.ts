// The OpenTelemetry SDK and its exporters, set up from the variables Azure Monitor and OpenTelemetry
// users already set. Loaded only when one of them is.
import { hostname } from 'node:os';
import { TraceFlags, trace, type Context, type Meter, type Tracer } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, SamplingDecision, type Sampler, type SamplingResult, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';

/** Name of the per-image span; the sampler picks on it. */
export const IMAGE_SPAN = 'pixbatch image';
/** The attribute the Azure Monitor exporter reads as the sampling percentage of a span. */
const SAMPLE_RATE = 'microsoft.sample_rate';

export interface Sdk {
  tracer: Tracer;
  meter: Meter;
  /** Sends what is buffered, waiting at most `ms`. */
  flush(ms: number): Promise<void>;
}

interface Exporters {
  spans: SpanExporter[];
  metrics: PushMetricExporter[];
}

/**
 * Keeps every job span and samples image spans (their read/convert/write spans follow them) from the
 * standard `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: `always_off` keeps no span at all
 * (metrics still count every image); `traceidratio` and `parentbased_traceidratio` keep that share
 * of images. A job is one trace, so a ratio on trace ids alone would keep a whole job or none of it.
 */
export class ImageSampler implements Sampler {
  private readonly ratio: number;
  private readonly off: boolean;

  constructor(settings: Sampling) {
    this.ratio = settings.images;
    this.off = !settings.jobs;
  }

  shouldSample(context: Context, _traceId: string, spanName: string): SamplingResult {
    if (this.off) return { decision: SamplingDecision.NOT_RECORD };
    const parent = trace.getSpanContext(context);
    if (!parent) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    if (!(parent.traceFlags & TraceFlags.SAMPLED)) return { decision: SamplingDecision.NOT_RECORD };
    if (this.ratio >= 1) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    if (spanName === IMAGE_SPAN && Math.random() >= this.ratio) return { decision: SamplingDecision.NOT_RECORD };
    // Application Insights scales its counts (itemCount) by this percentage.
    return { decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: { [SAMPLE_RATE]: this.ratio * 100 } };
  }

  toString(): string {
    return `ImageSampler{${this.ratio}}`;
  }
}

export interface Sampling {
  /** Whether spans are kept at all (`always_off` keeps none). */
  jobs: boolean;
  /** Share of images whose spans are kept, 0 to 1. */
  images: number;
}

/** What the standard sampler variables ask for. */
export function samplingFrom(env: NodeJS.ProcessEnv): Sampling {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (!sampler || sampler === 'always_on' || sampler === 'parentbased_always_on') return { jobs: true, images: 1 };
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return { jobs: false, images: 0 };
  if (sampler === 'traceidratio' || sampler === 'parentbased_traceidratio') {
    const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    // The specification's default ratio is 1.
    if (!arg) return { jobs: true, images: 1 };
    const ratio = Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      throw new UsageError(`Expected a number between 0 and 1 for OTEL_TRACES_SAMPLER_ARG but received "${arg}"`);
    }
    return { jobs: true, images: ratio };
  }
  throw new UsageError(
    `Expected always_on, always_off, traceidratio or parentbased_traceidratio (or parentbased_always_on/off) for OTEL_TRACES_SAMPLER but received "${env.OTEL_TRACES_SAMPLER}"`,
  );
}

/** Starts the tracer and meter providers with every configured exporter. They are not registered globally: a host's own SDK stays its own. */
export async function startSdk(env: NodeJS.ProcessEnv = process.env): Promise<Sdk> {
  const sampling = samplingFrom(env);
  const exporters: Exporters = { spans: [], metrics: [] };
  if (env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) {
    const { azureMonitorExporters } = await import('./azure-monitor.js');
    add(exporters, await azureMonitorExporters(env));
  }
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) {
    const { otlpExporters } = await import('./otlp.js');
    add(exporters, await otlpExporters(env));
  }
  const resource = defaultResource().merge(
    resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME?.trim() || 'pixbatch',
      'service.version': VERSION,
      // Application Insights shows this as the role instance: the Batch node, else this machine.
      'service.instance.id': env.AZ_BATCH_NODE_ID || hostname(),
    }),
  );
  const tracerProvider = new BasicTracerProvider({
    resource,
    sampler: new ImageSampler(sampling),
    spanProcessors: exporters.spans.map((e) => new BatchSpanProcessor(e)),
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: exporters.metrics.map((exporter) => new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: metricInterval(env) })),
  });
  return {
    tracer: tracerProvider.getTracer('pixbatch', VERSION),
    meter: meterProvider.getMeter('pixbatch', VERSION),
    async flush(ms) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      });
      // Spans first: the metric reader's flush collects the final counts.
      const flushed = tracerProvider
        .forceFlush()
        .then(() => meterProvider.forceFlush())
        .catch(() => undefined);
      await Promise.race([flushed, timeout]);
      clearTimeout(timer);
    },
  };
}

function add(into: Exporters, more: Exporters): void {
  into.spans.push(...more.spans);
  into.metrics.push(...more.metrics);
}

/** The standard `OTEL_METRIC_EXPORT_INTERVAL` (ms), else a minute. */
function metricInterval(env: NodeJS.ProcessEnv): number {
  const v = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
  return Number.isInteger(v) && v > 0 ? v : 60_000;
}
