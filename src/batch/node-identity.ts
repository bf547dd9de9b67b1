// How pixbatch signs in to the Batch account from a node: with the pool's user-assigned managed identity,
// as it does for Storage. Batch's task authentication tokens (authenticationTokenSettings,
// AZ_BATCH_AUTHENTICATION_TOKEN) were retired on 30 September 2024 and are not used.
import type { TokenCredential } from '@azure/core-auth';
import { UsageError } from '../errors.js';

/**
 * The built-in role the identity needs on the Batch account to add a scheduled run's tasks: "Lets you submit
 * and manage jobs in the Batch account" (data actions `jobs/*` and `jobSchedules/*`, nothing on pools or keys).
 */
export const BATCH_NODE_ROLE = 'Azure Batch Job Submitter';
export const BATCH_NODE_ROLE_ID = '48e5e92e-a480-4e71-aa9c-2778f4c13781';
/** "Role-based access control for Azure Batch service", where the role is listed. */
export const BATCH_ROLE_DOC = 'https://learn.microsoft.com/azure/batch/batch-role-based-access-control';

/** The `az` command that gives the identity the role on the account (placeholders where a value is not known). */
export function roleAssignmentCommand(where: { identityResourceId?: string; batchAccountId?: string } = {}): string {
  return [
    `az role assignment create --role "${BATCH_NODE_ROLE}"`,
    `  --assignee-object-id "$(az identity show --ids ${where.identityResourceId ?? 'IDENTITY_RESOURCE_ID'} --query principalId -o tsv)"`,
    '  --assignee-principal-type ServicePrincipal',
    `  --scope ${where.batchAccountId ?? 'BATCH_ACCOUNT_RESOURCE_ID'}`,
  ].join(' \\\n');
}

/** For `--help` and `batch pool create`: which role the pool's identity needs, how to give it, and where that is documented. */
export function batchRoleNote(where: { identityResourceId?: string; batchAccountId?: string } = {}): string {
  return [
    `Scheduled runs sign in to Batch as the pool's user-assigned identity (AZURE_CLIENT_ID), which needs the built-in`,
    `role "${BATCH_NODE_ROLE}" on the Batch account ("Role-based access control for Azure Batch service",`,
    `${BATCH_ROLE_DOC}):`,
    roleAssignmentCommand(where),
  ].join('\n');
}

/**
 * The credential a process on a node uses for Batch: DefaultAzureCredential pinned to the user-assigned
 * identity that `AZURE_CLIENT_ID` names (the pool may carry several identities; IMDS needs to be told which).
 */
export async function nodeBatchCredential(env: NodeJS.ProcessEnv = process.env): Promise<TokenCredential> {
  const clientId = env.AZURE_CLIENT_ID?.trim();
  if (!clientId) {
    throw new UsageError("Expected AZURE_CLIENT_ID naming the pool's user-assigned managed identity, to sign in to Batch");
  }
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential({ managedIdentityClientId: clientId });
}
