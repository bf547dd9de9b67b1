// Export to Application Insights with the Azure Monitor exporter, signing in with Microsoft Entra ID
// when the documented `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` asks for it
// (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
import type { TokenCredential } from '@azure/core-auth';
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { connectionStringFrom, entraSignInFrom } from './settings.js';

/**
 * The credential `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` names: `Authorization=AAD` signs in with the
 * managed identity (`ClientId=…` names a user-assigned one; without it, `AZURE_CLIENT_ID` does, as
 * everywhere else in pixbatch), and on a workstation with the Azure CLI's or another developer sign-in.
 * Unset: the connection string's instrumentation key alone, as the resource allows by default.
 */
export async function entraCredential(env: NodeJS.ProcessEnv): Promise<TokenCredential | undefined> {
  const signIn = entraSignInFrom(env);
  if (!signIn) return undefined;
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential(signIn.clientId ? { managedIdentityClientId: signIn.clientId } : {});
}

/** A trace and a metric exporter for the resource in `APPLICATIONINSIGHTS_CONNECTION_STRING`. */
export async function azureMonitorExporters(env: NodeJS.ProcessEnv) {
  const connectionString = connectionStringFrom(env)!;
  const credential = await entraCredential(env);
  const options = { connectionString, ...(credential ? { credential } : {}) };
  return { spans: [new AzureMonitorTraceExporter(options)], metrics: [new AzureMonitorMetricExporter(options)] };
}
