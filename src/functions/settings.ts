/**
 * The Functions app's configuration, read from app settings (environment variables) in the
 * conventions Functions users know:
 *
 * - the storage connection `PIXBATCH_STORAGE` (or the name in `PIXBATCH_CONNECTION`): a connection string
 *   for local runs, or `PIXBATCH_STORAGE__blobServiceUri` / `__serviceUri` to sign in with the app's managed
 *   identity (`__credential=managedidentity` and `__clientId` for a user-assigned one), as the Functions
 *   identity-based connections do (learn.microsoft.com/azure/azure-functions/functions-reference#configure-an-identity-based-connection);
 * - `PIXBATCH_SOURCE` and `PIXBATCH_DESTINATION` as `pixbatch convert` takes them;
 * - every conversion option as `PIXBATCH_<OPTION>`, validated by the same `resolveOptions` as the CLI flags.
 */
import type { TokenCredential } from '@azure/core-auth';
import { UsageError } from '../errors.js';
import { resolveOptions, type ConvertOptions, type ResolvedOptions } from '../options.js';
import type { BlobStoreOptions } from '../store/blob.js';
import { isBlobLocation } from '../store/location.js';

export const DEFAULT_CONNECTION = 'PIXBATCH_STORAGE';

/** `PIXBATCH_<NAME>` app setting → `convert()` option. Lists are comma-separated. */
export const OPTION_SETTINGS: ReadonlyArray<[setting: string, option: keyof ConvertOptions]> = [
  ['PIXBATCH_TO', 'to'],
  ['PIXBATCH_FROM', 'from'],
  ['PIXBATCH_BACKGROUND', 'background'],
  ['PIXBATCH_PRESET', 'preset'],
  ['PIXBATCH_QUALITY', 'quality'],
  ['PIXBATCH_PNG_COMPRESSION', 'pngCompression'],
  ['PIXBATCH_RESIZE', 'resize'],
  ['PIXBATCH_FIT', 'fit'],
  ['PIXBATCH_WATERMARK', 'watermark'],
  ['PIXBATCH_WATERMARK_POSITION', 'watermarkPosition'],
  ['PIXBATCH_WATERMARK_OPACITY', 'watermarkOpacity'],
  ['PIXBATCH_KEEP_METADATA', 'keepMetadata'],
  ['PIXBATCH_INCLUDE', 'include'],
  ['PIXBATCH_EXCLUDE', 'exclude'],
  ['PIXBATCH_OVERWRITE', 'overwrite'],
  ['PIXBATCH_CONCURRENCY', 'concurrency'],
  ['PIXBATCH_IO_CONCURRENCY', 'ioConcurrency'],
  ['PIXBATCH_MAX_PIXELS', 'maxPixels'],
];

export interface FunctionSettings {
  source: string;
  destination: string;
  options: ResolvedOptions;
  /** How both stores sign in: the connection's credential as `openBlobStore` options. */
  store: BlobStoreOptions;
  /** One line for the log saying which connection and credential are used; never holds a secret. */
  connection: string;
  /** `PIXBATCH_NOTIFY`: comma-separated webhook URLs and `mailto:` addresses told of each invocation, like `--notify`. */
  notify?: string[];
}

type Env = Record<string, string | undefined>;

function setting(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function required(env: Env, name: string, example: string): string {
  const v = setting(env, name);
  if (!v) throw new UsageError(`Expected the app setting ${name} (for example ${example}) but it is not set`);
  return v;
}

/** A `PIXBATCH_*` setting as the option value `resolveOptions` expects. */
function optionValue(option: keyof ConvertOptions, text: string): unknown {
  if (option === 'include' || option === 'exclude') return text.split(',').map((s) => s.trim()).filter(Boolean);
  if (option === 'keepMetadata') {
    if (/^(true|1|yes)$/i.test(text)) return true;
    if (/^(false|0|no)$/i.test(text)) return false;
    throw new UsageError(`Expected true or false for PIXBATCH_KEEP_METADATA but received "${text}"`);
  }
  return text;
}

/**
 * The credential settings of one connection, turned into what `openBlobStore` takes. A connection
 * string goes in as `AZURE_STORAGE_CONNECTION_STRING` (the store's own credential chain applies);
 * an identity connection gives the blob endpoint and a managed identity (or, off Azure, the developer's
 * identity through DefaultAzureCredential, as Functions does for local runs).
 */
async function connectionFor(env: Env, name: string, createCredential: CredentialFactory): Promise<{ store: BlobStoreOptions; serviceUri?: string; line: string }> {
  const connectionString = setting(env, name);
  if (connectionString) {
    if (!/(AccountName|BlobEndpoint|UseDevelopmentStorage|SharedAccessSignature)\s*=/i.test(connectionString)) {
      throw new UsageError(`Expected a storage connection string in the app setting ${name} but it has no AccountName, BlobEndpoint or SharedAccessSignature`);
    }
    return { store: { env: { AZURE_STORAGE_CONNECTION_STRING: connectionString } }, line: `connection string in ${name}` };
  }
  const serviceUri = setting(env, `${name}__blobServiceUri`) ?? setting(env, `${name}__serviceUri`);
  const accountName = setting(env, `${name}__accountName`);
  const endpoint = serviceUri ?? (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
  // Without the connection, the CLI's own conventions apply (AZURE_STORAGE_*, then DefaultAzureCredential).
  if (!endpoint) return { store: {}, line: `no ${name} setting: AZURE_STORAGE_* or DefaultAzureCredential` };
  const managed = setting(env, `${name}__credential`)?.toLowerCase() === 'managedidentity';
  const clientId = setting(env, `${name}__clientId`);
  const tokenCredential = await createCredential(managed ? { managedIdentity: true, clientId } : { clientId });
  const who = managed ? (clientId ? `managed identity ${clientId}` : 'system-assigned managed identity') : 'DefaultAzureCredential';
  return { store: { env: {}, tokenCredential }, serviceUri: endpoint.replace(/\/+$/, ''), line: `${who} for ${endpoint}` };
}

export type CredentialFactory = (o: { managedIdentity?: boolean; clientId?: string }) => Promise<TokenCredential>;

/** Loads `@azure/identity` only when an identity connection is configured. */
const defaultCredentialFactory: CredentialFactory = async ({ managedIdentity, clientId }) => {
  const identity = await import('@azure/identity');
  if (managedIdentity) return clientId ? new identity.ManagedIdentityCredential({ clientId }) : new identity.ManagedIdentityCredential();
  return new identity.DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
};

/** `az://CONTAINER/PREFIX` is resolved against the identity connection's endpoint. */
function located(location: string, setting: string, serviceUri: string | undefined): string {
  if (!isBlobLocation(location)) {
    throw new UsageError(`Expected a Blob Storage location (https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX or az://CONTAINER/PREFIX) for ${setting} but received "${location}"`);
  }
  if (serviceUri && /^az:\/\//i.test(location)) return `${serviceUri}/${location.slice('az://'.length)}`;
  return location;
}

/**
 * Reads and checks every setting; a bad one is a UsageError naming the setting and what it accepts.
 *
 * @example
 * const settings = await readSettings({ PIXBATCH_SOURCE: 'az://images/incoming', PIXBATCH_DESTINATION: 'az://converted',
 *   PIXBATCH_STORAGE: 'UseDevelopmentStorage=true', PIXBATCH_TO: 'webp' });
 */
export async function readSettings(env: Env = process.env, createCredential: CredentialFactory = defaultCredentialFactory): Promise<FunctionSettings> {
  const name = setting(env, 'PIXBATCH_CONNECTION') ?? DEFAULT_CONNECTION;
  const connection = await connectionFor(env, name, createCredential);
  const source = located(required(env, 'PIXBATCH_SOURCE', 'az://images/incoming'), 'PIXBATCH_SOURCE', connection.serviceUri);
  const destination = located(required(env, 'PIXBATCH_DESTINATION', 'az://converted'), 'PIXBATCH_DESTINATION', connection.serviceUri);
  const given: Partial<Record<keyof ConvertOptions, unknown>> = {};
  for (const [key, option] of OPTION_SETTINGS) {
    const v = setting(env, key);
    if (v !== undefined) given[option] = optionValue(option, v);
  }
  let options: ResolvedOptions;
  try {
    options = resolveOptions(given as Omit<ConvertOptions, 'source' | 'destination'>);
  } catch (err) {
    // The message names the option as the CLI spells it; the app setting is what the user must fix.
    throw new UsageError(`${(err as Error).message} (app settings PIXBATCH_*)`);
  }
  const targets = setting(env, 'PIXBATCH_NOTIFY')?.split(',').map((t) => t.trim()).filter(Boolean);
  // A mailto: target takes its endpoint and sender from PIXBATCH_EMAIL_ENDPOINT/PIXBATCH_EMAIL_SENDER.
  const notify = targets?.length ? (await import('../report/notify.js')).checkNotifyTargets(targets) : undefined;
  return { source, destination, options, store: connection.store, connection: connection.line, notify };
}
