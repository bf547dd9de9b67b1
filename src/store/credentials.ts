/**
 * Which credential a blob location is opened with, in the order Azure users expect:
 *
 * 1. `AZURE_STORAGE_CONNECTION_STRING` (its account key or SAS)
 * 2. `AZURE_STORAGE_ACCOUNT` with `AZURE_STORAGE_KEY` or `AZURE_STORAGE_SAS_TOKEN`
 * 3. a SAS in the location URL
 * 4. `DefaultAzureCredential` (on a Batch node: the user-assigned managed identity named by `AZURE_CLIENT_ID`)
 *
 * Environment credentials apply only to the account they name, so a URL for another account
 * still uses its own SAS or a token rather than a key that cannot work.
 */
import { AnonymousCredential, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/core-auth';
import { parseConnectionString, type BlobLocation } from './location.js';
import { registerSecret } from './redact.js';

export type CredentialMethod = 'connection-string' | 'account-key' | 'account-sas' | 'url-sas' | 'token';

export interface ResolvedCredential {
  method: CredentialMethod;
  /** How it was tried, for messages: "the account key in AZURE_STORAGE_CONNECTION_STRING". Never contains the secret. */
  description: string;
  credential: StorageSharedKeyCredential | AnonymousCredential | TokenCredential;
  /** SAS appended to every request URL. */
  sas?: string;
  /** Notes on environment credentials that were present but skipped (another account), for messages. */
  skipped: string[];
}

export interface CredentialOptions {
  env?: NodeJS.ProcessEnv;
  /** Use this token credential instead of DefaultAzureCredential (tests, embedding applications). */
  tokenCredential?: TokenCredential;
}

function sameAccount(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

/** Picks the credential for a location; DefaultAzureCredential is created lazily (it loads a large library). */
export async function resolveCredential(loc: BlobLocation, options: CredentialOptions = {}): Promise<ResolvedCredential> {
  const env = options.env ?? process.env;
  const skipped: string[] = [];
  // `az://` takes its account from the environment, so the environment's credential always applies to it.
  const applies = (account: string | undefined) => loc.style === 'az' || !loc.accountName || sameAccount(account, loc.accountName);

  if (env.AZURE_STORAGE_CONNECTION_STRING) {
    const cs = parseConnectionString(env.AZURE_STORAGE_CONNECTION_STRING);
    if (!applies(cs.accountName)) {
      skipped.push(`AZURE_STORAGE_CONNECTION_STRING is for account "${cs.accountName ?? '?'}"`);
    } else if (cs.accountKey && cs.accountName) {
      registerSecret(cs.accountKey);
      return {
        method: 'connection-string',
        description: `the account key in AZURE_STORAGE_CONNECTION_STRING (account "${cs.accountName}")`,
        credential: new StorageSharedKeyCredential(cs.accountName, cs.accountKey),
        skipped,
      };
    } else if (cs.sas) {
      return {
        method: 'connection-string',
        description: 'the SAS in AZURE_STORAGE_CONNECTION_STRING',
        credential: new AnonymousCredential(),
        sas: cs.sas,
        skipped,
      };
    }
  }

  const account = env.AZURE_STORAGE_ACCOUNT?.trim();
  if (account && (env.AZURE_STORAGE_KEY || env.AZURE_STORAGE_SAS_TOKEN)) {
    if (!applies(account)) {
      skipped.push(`AZURE_STORAGE_ACCOUNT is "${account}"`);
    } else if (env.AZURE_STORAGE_KEY) {
      registerSecret(env.AZURE_STORAGE_KEY);
      return {
        method: 'account-key',
        description: `AZURE_STORAGE_KEY for AZURE_STORAGE_ACCOUNT "${account}"`,
        credential: new StorageSharedKeyCredential(account, env.AZURE_STORAGE_KEY.trim()),
        skipped,
      };
    } else {
      return {
        method: 'account-sas',
        description: `AZURE_STORAGE_SAS_TOKEN for AZURE_STORAGE_ACCOUNT "${account}"`,
        credential: new AnonymousCredential(),
        sas: env.AZURE_STORAGE_SAS_TOKEN!.trim().replace(/^\?/, ''),
        skipped,
      };
    }
  }

  if (loc.sas) {
    return { method: 'url-sas', description: 'the SAS in the URL', credential: new AnonymousCredential(), sas: loc.sas, skipped };
  }

  if (options.tokenCredential) {
    return { method: 'token', description: 'the given token credential', credential: options.tokenCredential, skipped };
  }
  const { DefaultAzureCredential } = await import('@azure/identity');
  const clientId = env.AZURE_CLIENT_ID?.trim();
  return {
    method: 'token',
    description: clientId
      ? `DefaultAzureCredential (managed identity AZURE_CLIENT_ID=${clientId})`
      : 'DefaultAzureCredential (no AZURE_STORAGE_* credential or SAS was given)',
    credential: new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}),
    skipped,
  };
}
