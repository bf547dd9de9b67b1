// Export OTLP over HTTP to the collector or backend in the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
// The exporters read the endpoint, headers and timeouts from the standard variables themselves.
import { otlpProtocolFrom } from './settings.js';

/** The trace and metric exporter classes for `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (the default the specification sets) or `http/json`. */
export async function loadExporterModules(env: NodeJS.ProcessEnv) {
  if (otlpProtocolFrom(env) === 'http/json') {
    const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/exporter-metrics-otlp-http'),
    ]);
    return { OTLPTraceExporter, OTLPMetricExporter };
  }
  const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/exporter-metrics-otlp-proto'),
  ]);
  return { OTLPTraceExporter, OTLPMetricExporter };
}

/** A trace and a metric exporter for the protocol `env` names. */
export async function otlpExporters(env: NodeJS.ProcessEnv) {
  const { OTLPTraceExporter, OTLPMetricExporter } = await loadExporterModules(env);
  return { spans: [new OTLPTraceExporter()], metrics: [new OTLPMetricExporter()] };
}
