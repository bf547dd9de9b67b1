// What the standard OpenTelemetry variables ask for, read and checked on the main thread before a
// job starts, so a wrong value stops the run with a usage error. Loads nothing of OpenTelemetry.
import { UsageError } from '../errors.js';

/** Name of the per-image span. */
export const IMAGE_SPAN = 'pixbatch image';

/**
 * How long a job waits at its end for its telemetry to be sent: long enough for one retry, never a
 * hang. The main thread bounds its wait by it, and the export thread its flush.
 */
export const FLUSH_MS = 10_000;

export interface Sampling {
  /** Whether spans are kept at all (`always_off` keeps none). */
  jobs: boolean;
  /** Share of images whose spans are kept, 0 to 1. */
  images: number;
}

/**
 * Every job span is kept; image spans (and their read/convert/write spans) follow the standard
 * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: `always_off` keeps no span at all (metrics
 * still count every image); `traceidratio` and `parentbased_traceidratio` keep that share of images.
 * A job is one trace, so a ratio on trace ids alone would keep a whole job or none of it.
 */
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

/** The OTLP protocols the exporters speak (gRPC is not bundled). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** What every Application Insights connection string carries. */
export const INSTRUMENTATION_KEY = /(^|;)\s*InstrumentationKey\s*=/i;

/** `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (the default the specification sets) or `http/json`. */
export function otlpProtocolFrom(env: NodeJS.ProcessEnv): OtlpProtocol {
  const protocol = env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf';
  if ((OTLP_PROTOCOLS as readonly string[]).includes(protocol)) return protocol as OtlpProtocol;
  throw new UsageError(`Expected http/protobuf or http/json for OTEL_EXPORTER_OTLP_PROTOCOL but received "${protocol}" (gRPC is not supported: use a collector's HTTP port)`);
}

/** The Application Insights connection string, checked for the instrumentation key it must carry. */
export function connectionStringFrom(env: NodeJS.ProcessEnv): string | undefined {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return undefined;
  if (!INSTRUMENTATION_KEY.test(connectionString)) {
    throw new UsageError('Expected a connection string with InstrumentationKey=… (copied from the Application Insights resource) for APPLICATIONINSIGHTS_CONNECTION_STRING');
  }
  return connectionString;
}

/** `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`: unset (the key alone) or `Authorization=AAD`, with the managed identity's client id when one is named. */
export function entraSignInFrom(env: NodeJS.ProcessEnv): { clientId?: string } | undefined {
  const value = env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING?.trim();
  if (!value) return undefined;
  const parts = new Map(
    value
      .split(';')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => [p.slice(0, p.indexOf('=')).trim().toLowerCase(), p.slice(p.indexOf('=') + 1).trim()] as const),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') {
    throw new UsageError(`Expected "Authorization=AAD" (optionally ";ClientId=<client id>") for APPLICATIONINSIGHTS_AUTHENTICATION_STRING but received "${value}"`);
  }
  const clientId = parts.get('clientid') || env.AZURE_CLIENT_ID?.trim() || undefined;
  return clientId ? { clientId } : {};
}

/** Checks every telemetry variable in `env`; throws the usage error of the first one at fault. */
export function checkTelemetrySettings(env: NodeJS.ProcessEnv): Sampling {
  const sampling = samplingFrom(env);
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) otlpProtocolFrom(env);
  if (connectionStringFrom(env)) entraSignInFrom(env);
  return sampling;
}
