// The `telemetry` section of the config file, turned into the standard variables the exporters read.
// Putting them into the process environment before a job starts is what makes a config file act
// exactly like the variables: the local run reports, and Batch tasks and schedules get them as task
// environment settings through `telemetryEnvironment()`.
import type { TELEMETRY_VARIABLES } from '../telemetry/index.js';
import { locateConfigFile } from './locate.js';
import type { ConfigFile } from './schema.js';

type TelemetryVariable = (typeof TELEMETRY_VARIABLES)[number];

/** The variables a `telemetry` section stands for (the environment is not consulted). */
export function telemetryVariablesOf(section: ConfigFile['telemetry']): Partial<Record<TelemetryVariable, string>> {
  const s = section ?? {};
  const out: Partial<Record<TelemetryVariable, string>> = {};
  if (s.connectionString) out.APPLICATIONINSIGHTS_CONNECTION_STRING = s.connectionString;
  if (s.authenticationString) out.APPLICATIONINSIGHTS_AUTHENTICATION_STRING = s.authenticationString;
  if (s.otlpEndpoint) out.OTEL_EXPORTER_OTLP_ENDPOINT = s.otlpEndpoint;
  if (s.otlpProtocol) out.OTEL_EXPORTER_OTLP_PROTOCOL = s.otlpProtocol;
  if (s.imageSampleRatio !== undefined) {
    out.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
    out.OTEL_TRACES_SAMPLER_ARG = String(s.imageSampleRatio);
  }
  if (s.serviceName) out.OTEL_SERVICE_NAME = s.serviceName;
  if (s.names) out.PIXBATCH_TELEMETRY_NAMES = '1';
  return out;
}

/**
 * Sets in `env` each telemetry variable the config file's `telemetry` section gives and `env` leaves
 * unset or blank (the environment wins, variable by variable), and returns the names it set. Without
 * a config file nothing is read. Call it before a job starts and before Batch tasks are described.
 *
 * @example
 * await applyTelemetryConfig({ config: flags.config });
 * // process.env.OTEL_EXPORTER_OTLP_ENDPOINT now holds telemetry.otlpEndpoint unless it was set already
 */
export async function applyTelemetryConfig(
  flags: { config?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Promise<TelemetryVariable[]> {
  const file = await locateConfigFile({ config: flags.config, env, cwd });
  if (!file) return [];
  const { readConfigFile } = await import('./load.js');
  const wanted = telemetryVariablesOf((await readConfigFile(file)).telemetry);
  const set: TelemetryVariable[] = [];
  for (const [name, value] of Object.entries(wanted) as Array<[TelemetryVariable, string]>) {
    if (env[name]?.trim()) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
