// The OpenTelemetry SDK and its exporters, set up from the variables Azure Monitor and OpenTelemetry
// users already set. Loaded only in the export thread (export-worker.ts).
import { hostname } from 'node:os';
import type { Meter, Tracer } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { VERSION } from '../version.js';

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

type ExporterFactory = (env: NodeJS.ProcessEnv) => Promise<Exporters>;

/**
 * The exporters `env` configures (Application Insights, OTLP or both), once their modules have
 * loaded; for OTLP that includes the protocol's exporter package, most of what starting it costs.
 */
function configuredExporters(env: NodeJS.ProcessEnv): Array<Promise<ExporterFactory>> {
  const out: Array<Promise<ExporterFactory>> = [];
  if (env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) out.push(import('./azure-monitor.js').then((m) => m.azureMonitorExporters));
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) out.push(
      import('./otlp.js').then(async (m) => {
        await m.loadExporterModules(env);
        return m.otlpExporters;
      }),
    );
  return out;
}

/** Loads the exporter modules `env` names, so that startSdk finds them loaded. Never fails: startSdk reports what is wrong. */
export async function preloadExporters(env: NodeJS.ProcessEnv): Promise<void> {
  await Promise.allSettled(configuredExporters(env));
}

/** Starts the tracer and meter providers with every configured exporter. They are not registered globally: a host's own SDK stays its own. */
export async function startSdk(env: NodeJS.ProcessEnv = process.env): Promise<Sdk> {
  const exporters: Exporters = { spans: [], metrics: [] };
  for (const factory of await Promise.all(configuredExporters(env))) add(exporters, await factory(env));
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
    // Spans come here already sampled (the main thread picks the images, see settings.ts). The SDK's
    // own default would read OTEL_TRACES_SAMPLER and drop whole jobs.
    sampler: new AlwaysOnSampler(),
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
      // Both at once: every event was applied before the flush was asked for, so the counts are final.
      const flushed = Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]).catch(() => undefined);
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
