/**
 * Blob Storage locations as Azure users write them:
 *
 * - `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX` (any cloud's `ACCOUNT.blob.SUFFIX`), optionally `?SAS`
 * - `http://127.0.0.1:10000/devstoreaccount1/CONTAINER/PREFIX` (emulator, path-style: account first in the path)
 * - `az://CONTAINER/PREFIX`, the account taken from the environment
 */
import { UsageError, invalidOption } from '../errors.js';
import { redact } from './redact.js';

export interface BlobLocation {
  /** Service endpoint without query or trailing slash: `https://acct.blob.core.windows.net` or `http://127.0.0.1:10000/devstoreaccount1`. */
  serviceUrl: string;
  /** Undefined when the host names no account (a custom domain). */
  accountName?: string;
  container: string;
  /** Folder inside the container: '' or ending in '/'. */
  prefix: string;
  /** SAS token from the URL's query, without the leading '?'. */
  sas?: string;
  /** How it was written: a URL, or `az://` with the account from the environment. */
  style: 'url' | 'az';
}

/** The emulator's well-known development account (public, the same in every Azurite). */
export const EMULATOR_ACCOUNT = 'devstoreaccount1';
export const EMULATOR_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** True for strings that name Blob Storage rather than a folder. */
export function isBlobLocation(location: string): boolean {
  return /^(?:https?|az):\/\//i.test(location.trim());
}

export interface ConnectionString {
  accountName?: string;
  accountKey?: string;
  sas?: string;
  /** Blob endpoint without trailing slash. */
  blobEndpoint?: string;
}

/** Parses `AZURE_STORAGE_CONNECTION_STRING` the way the SDKs do (including `UseDevelopmentStorage=true`). */
export function parseConnectionString(text: string): ConnectionString {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    fields.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  if (fields.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    const proxy = fields.get('developmentstorageproxyuri');
    const base = proxy ? trimSlash(proxy) : 'http://127.0.0.1';
    return { accountName: EMULATOR_ACCOUNT, accountKey: EMULATOR_KEY, blobEndpoint: `${base}:10000/${EMULATOR_ACCOUNT}` };
  }
  const accountName = fields.get('accountname') || undefined;
  let blobEndpoint = fields.get('blobendpoint');
  if (!blobEndpoint && accountName) {
    const protocol = fields.get('defaultendpointsprotocol') || 'https';
    const suffix = fields.get('endpointsuffix') || 'core.windows.net';
    blobEndpoint = `${protocol}://${accountName}.blob.${suffix}`;
  }
  const sas = fields.get('sharedaccesssignature')?.replace(/^\?/, '') || undefined;
  return {
    accountName: accountName ?? (blobEndpoint ? accountFromEndpoint(blobEndpoint) : undefined),
    accountKey: fields.get('accountkey') || undefined,
    sas,
    blobEndpoint: blobEndpoint ? trimSlash(blobEndpoint) : undefined,
  };
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function isPathStyleHost(hostname: string): boolean {
  // IP addresses and localhost are the emulator's path-style form (account first in the path), as Azurite decides.
  return /^(?:\d{1,3}\.){3}\d{1,3}$/.test(hostname) || hostname.startsWith('[') || hostname === 'localhost' || hostname === 'host.docker.internal';
}

/** The account a blob endpoint belongs to: `acct` of `acct.blob.core.windows.net`, or the first path segment of a path-style endpoint. */
export function accountFromEndpoint(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (isPathStyleHost(url.hostname)) return decodeURIComponent(url.pathname.split('/').filter(Boolean)[0] ?? '') || undefined;
  const labels = url.hostname.split('.');
  return labels.length > 2 && labels[1] === 'blob' ? labels[0] : undefined;
}

const CONTAINER_NAME = /^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;

function checkContainer(container: string, location: string): void {
  if (!CONTAINER_NAME.test(container)) {
    throw invalidOption(
      `the container of ${redact(location)}`,
      'a container name of 3-63 lowercase letters, digits and single hyphens',
      container,
    );
  }
}

function folderPrefix(segments: string[]): string {
  const decoded = segments.filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return decoded.length ? `${decoded.join('/')}/` : '';
}

/**
 * Parses a blob location. `env` supplies the account for `az://` (connection string, then `AZURE_STORAGE_ACCOUNT`).
 * Throws a UsageError saying what was expected.
 *
 * @example
 * parseBlobLocation('https://acct.blob.core.windows.net/images/2024?sv=...&sig=...');
 * // { serviceUrl: 'https://acct.blob.core.windows.net', accountName: 'acct', container: 'images', prefix: '2024/', sas: 'sv=...', style: 'url' }
 */
export function parseBlobLocation(location: string, env: NodeJS.ProcessEnv = process.env): BlobLocation {
  const text = location.trim();
  if (/^az:\/\//i.test(text)) {
    const rest = text.slice('az://'.length).split('?')[0];
    const [container = '', ...segments] = rest.split('/');
    checkContainer(container, location);
    const endpoint = accountEndpointFromEnv(env);
    if (!endpoint) {
      throw new UsageError(
        `Expected AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT to name the storage account for ${redact(location)} but neither is set`,
      );
    }
    return { serviceUrl: endpoint.serviceUrl, accountName: endpoint.accountName, container, prefix: folderPrefix(segments), style: 'az' };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidOption('location', 'a folder, https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX or az://CONTAINER/PREFIX', redact(location));
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const sas = url.search.length > 1 ? url.search.slice(1) : undefined;
  const origin = `${url.protocol}//${url.host}`;
  let serviceUrl: string;
  let accountName: string | undefined;
  if (isPathStyleHost(url.hostname)) {
    accountName = segments.shift();
    if (!accountName) {
      throw invalidOption('location', `${origin}/ACCOUNT/CONTAINER/PREFIX (the emulator's path-style form)`, redact(location));
    }
    accountName = decodeURIComponent(accountName);
    serviceUrl = `${origin}/${encodeURIComponent(accountName)}`;
  } else {
    accountName = accountFromEndpoint(origin);
    serviceUrl = origin;
  }
  const container = segments.shift() ?? '';
  if (!container) {
    throw invalidOption('location', `${serviceUrl}/CONTAINER/PREFIX (a container is required)`, redact(location));
  }
  checkContainer(container, location);
  return { serviceUrl, accountName, container, prefix: folderPrefix(segments), sas, style: 'url' };
}

function accountEndpointFromEnv(env: NodeJS.ProcessEnv): { serviceUrl: string; accountName?: string } | undefined {
  if (env.AZURE_STORAGE_CONNECTION_STRING) {
    const cs = parseConnectionString(env.AZURE_STORAGE_CONNECTION_STRING);
    if (cs.blobEndpoint) return { serviceUrl: cs.blobEndpoint, accountName: cs.accountName };
  }
  const account = env.AZURE_STORAGE_ACCOUNT?.trim();
  if (account) return { serviceUrl: `https://${account}.blob.core.windows.net`, accountName: account };
  return undefined;
}

/** The location as shown to users: the URL without its query (a SAS is never shown). */
export function displayLocation(loc: BlobLocation): string {
  const path = [loc.container, ...loc.prefix.split('/').filter(Boolean)].join('/');
  return `${loc.serviceUrl}/${path}${loc.prefix ? '/' : ''}`;
}
