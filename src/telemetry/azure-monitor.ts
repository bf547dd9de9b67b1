// Export to Application Insights with the Azure Monitor exporter, signing in with Microsoft Entra ID
// when the documented `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` asks for it
// (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
import type { TokenCredential } from '@azure/core-auth';
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { UsageError } from '../errors.js';

/**
 * The credential `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` names: `Authorization=AAD` signs in with the
 * managed identity (`ClientId=…` names a user-assigned one; without it, `AZURE_CLIENT_ID` does, as
 * everywhere else in pixbatch), and on a workstation with the Azure CLI's or another developer sign-in.
 * Unset: the connection string's instrumentation key alone, as the resource allows by default.
 */
export async function entraCredential(env: NodeJS.ProcessEnv): Promise<TokenCredential | undefined> {
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
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}

/** A trace and a metric exporter for the resource in `APPLICATIONINSIGHTS_CONNECTION_STRING`. */
export async function azureMonitorExporters(env: NodeJS.ProcessEnv) {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING!.trim();
  if (!/(^|;)\s*InstrumentationKey\s*=/i.test(connectionString)) {
    throw new UsageError('Expected a connection string with InstrumentationKey=… (copied from the Application Insights resource) for APPLICATIONINSIGHTS_CONNECTION_STRING');
  }
  const credential = await entraCredential(env);
  const options = { connectionString, ...(credential ? { credential } : {}) };
  return { spans: [new AzureMonitorTraceExporter(options)], metrics: [new AzureMonitorMetricExporter(options)] };
}
