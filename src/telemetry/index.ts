// Telemetry is opt-in: this module is all a run loads when neither exporter variable is set. The
// OpenTelemetry API, SDK and exporters are imported only once an exporter is configured.
import type { ImageRecord, WorkItem } from '../interfaces.js';

/** What the pipeline tells telemetry about one image; `undefined` everywhere when telemetry is off. */
export interface ImageProbe {
  /** Runs one stage of the image (read, convert, write) and times it. */
  stage<T>(name: ImageStage, fn: () => Promise<T>): Promise<T>;
}

export type ImageStage = 'read' | 'convert' | 'write';

/** The pipeline's hooks. Kept to three calls so the pipeline stays readable. */
export interface PipelineObserver {
  /** An image was admitted (read, convert, write follow). */
  started(item: WorkItem): ImageProbe;
  /** An image's record, with the probe `started` gave when it was admitted (none for planned skips and failures). */
  recorded(record: ImageRecord, probe?: ImageProbe): void;
}

/** Where a job runs: the local engine, one Batch task, one Functions invocation. */
export type JobKind = 'local' | 'batch-task' | 'function';

/** Attributes of a job span: ids only, never a location, a key or a SAS. */
export interface JobAttributes {
  /** Batch job id, Functions invocation id; a local run has none. */
  jobId?: string;
  taskId?: string;
  nodeId?: string;
  format?: string;
  preset?: string;
}

/** Variables that turn telemetry on (the ones Azure Monitor and OpenTelemetry users already set). */
export const EXPORTER_VARIABLES = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const;

/**
 * Variables a Batch task or Functions app needs to report like the process that submitted it.
 * `OTEL_EXPORTER_OTLP_HEADERS` is left out on purpose: it often carries an API key, and task
 * environment settings can be read by anyone who can read the job.
 */
export const TELEMETRY_VARIABLES = [
  ...EXPORTER_VARIABLES,
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_SERVICE_NAME',
  'OTEL_SDK_DISABLED',
  'PIXBATCH_TELEMETRY_NAMES',
] as const;

/** True when an exporter is configured and the standard `OTEL_SDK_DISABLED` does not turn it off. */
export function telemetryEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return EXPORTER_VARIABLES.some((name) => Boolean(env[name]?.trim()));
}

/** The telemetry variables set in `env`, as name/value pairs for a Batch task's environment. */
export function telemetryEnvironment(env: NodeJS.ProcessEnv = process.env): Array<{ name: string; value: string }> {
  if (!telemetryEnabled(env)) return [];
  return TELEMETRY_VARIABLES.filter((name) => env[name]?.trim()).map((name) => ({ name, value: env[name]! }));
}

/**
 * Runs one job inside a span (kind `local`, `batch-task` or `function`) and hands `run` the observer
 * to pass to `runPipeline`. With telemetry off, `run` gets `undefined` and nothing else is loaded.
 * The span ends with the job, and what was recorded is flushed (with a bounded wait) before this
 * returns, so a process that exits next loses nothing.
 *
 * @example
 * import { withJobSpan } from 'pixbatch';
 * const summary = await withJobSpan('function', { jobId: invocationId, format: 'png' }, (observer) =>
 *   runPipeline({ items, source, destination, options, observer }),
 * );
 */
export async function withJobSpan<T>(
  kind: JobKind,
  attributes: JobAttributes,
  run: (observer: PipelineObserver | undefined) => Promise<T>,
  describeResult?: (result: T) => JobAttributes & { counts?: Record<string, number>; bytesIn?: number; bytesOut?: number },
): Promise<T> {
  if (!telemetryEnabled()) return run(undefined);
  const { runJob } = await import('./job.js');
  return runJob(kind, attributes, run, describeResult);
}

/**
 * Starts the telemetry export thread now, when telemetry is on, so that the SDK loads on an idle core
 * while the process is still starting rather than after the job has begun. Call it first thing in a
 * process that is about to run a job; `withJobSpan` starts it anyway when it was not.
 */
export async function prestartTelemetry(): Promise<void> {
  if (!telemetryEnabled()) return;
  const { prestartTelemetry: start } = await import('./job.js');
  start();
}

/** Whether a command line (without node and the script) runs conversions in this process: worth starting telemetry early. */
export function runsJobHere(args: readonly string[]): boolean {
  if (args[0] === 'worker') return true;
  return args[0] === 'convert' && !args.some((a) => a === '--dry-run' || a === '--help' || a === '-h' || a === '--pool' || a.startsWith('--pool='));
}
