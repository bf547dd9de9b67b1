import { BatchManagementClient } from '@azure/arm-batch';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import type { ResolvedConfig } from '../config/schema.js';
import { requireConfig } from '../config/load.js';

/** A Batch account's pools, as the management plane sees them. */
export interface PoolTarget {
  client: BatchManagementClient;
  resourceGroup: string;
  accountName: string;
}

export interface PoolClientOptions {
  /** Defaults to `DefaultAzureCredential` (Azure CLI login, environment, managed identity). */
  credential?: TokenCredential;
  /** Extra trusted CA certificates (PEM), for a private Resource Manager endpoint. */
  ca?: string | Buffer;
}

/**
 * Connects to the Batch account named in the config through Resource Manager. Pools with a
 * user-assigned identity can only be created there, not through the Batch data plane.
 *
 * @example
 * const target = createPoolClient(await loadConfig());
 * const pool = await target.client.poolOperations.get(target.resourceGroup, target.accountName, 'pixbatch');
 */
export function createPoolClient(config: ResolvedConfig, options: PoolClientOptions = {}): PoolTarget {
  requireConfig(config, ['azure.subscriptionId', 'azure.resourceGroup', 'batch.accountName']);
  const endpoint = config.azure.armEndpoint;
  const client = new BatchManagementClient(options.credential ?? new DefaultAzureCredential(), config.azure.subscriptionId!, {
    // The generated client builds URLs from `$host` and token scopes from `endpoint`: both must move together.
    endpoint,
    $host: endpoint,
    credentialScopes: [`${endpoint}/.default`],
    ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    userAgentOptions: { userAgentPrefix: 'pixbatch' },
  });
  return { client, resourceGroup: config.azure.resourceGroup!, accountName: config.batch.accountName! };
}
