// Which Batch account to talk to and how to sign in, from flags or the environment the Azure CLI uses.
import { UsageError } from '../errors.js';
import { BatchClient, BatchSharedKeyCredential, type BatchCredential } from './client.js';

export interface BatchAccountOptions {
  /** `https://ACCOUNT.REGION.batch.azure.com` (default: `AZURE_BATCH_ENDPOINT` or `PIXBATCH_BATCH_URL`). */
  batchAccountUrl?: string;
  /** Account name for shared-key sign-in (default: `AZURE_BATCH_ACCOUNT`, else the URL's first label). */
  batchAccountName?: string;
  /** Shared key (default: `AZURE_BATCH_ACCESS_KEY`); without one, Microsoft Entra ID through DefaultAzureCredential. */
  batchAccountKey?: string;
}

export function batchAccountUrl(options: BatchAccountOptions, env: NodeJS.ProcessEnv = process.env): string {
  const url = options.batchAccountUrl || env.AZURE_BATCH_ENDPOINT || env.PIXBATCH_BATCH_URL;
  if (!url) {
    throw new UsageError('Expected --batch-account-url (or AZURE_BATCH_ENDPOINT) naming the Batch account, such as https://ACCOUNT.REGION.batch.azure.com');
  }
  const withScheme = /^https?:\/\//i.test(url) ? url : `https://${url}`;
  try {
    new URL(withScheme);
  } catch {
    throw new UsageError(`Expected a URL such as https://ACCOUNT.REGION.batch.azure.com for --batch-account-url but received "${url}"`);
  }
  return withScheme.replace(/\/+$/, '');
}

/** A client for the account: shared key when one is given, otherwise DefaultAzureCredential. */
export async function connectBatch(options: BatchAccountOptions, env: NodeJS.ProcessEnv = process.env): Promise<BatchClient> {
  const url = batchAccountUrl(options, env);
  const key = options.batchAccountKey || env.AZURE_BATCH_ACCESS_KEY;
  let credential: BatchCredential;
  if (key) {
    const name = options.batchAccountName || env.AZURE_BATCH_ACCOUNT || new URL(url).hostname.split('.')[0]!;
    credential = new BatchSharedKeyCredential(name, key);
  } else {
    const { DefaultAzureCredential } = await import('@azure/identity');
    credential = new DefaultAzureCredential();
  }
  return new BatchClient(url, credential);
}
