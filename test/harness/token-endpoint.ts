/**
 * A loopback managed-identity token endpoint that `@azure/identity` can be pointed at, speaking both
 * the IMDS protocol (`AZURE_POD_IDENTITY_AUTHORITY_HOST=url`, `GET /metadata/identity/oauth2/token`
 * with `Metadata: true`) and the App Service one (`IDENTITY_ENDPOINT=url/msi/token`,
 * `IDENTITY_HEADER=header`). Tokens are JWTs Azurite's `--oauth basic` accepts (it checks issuer,
 * audience and times, not the signature).
 *
 * @example
 * const idp = await startTokenEndpoint({ clientIds: ['my-identity'] });
 * env.AZURE_POD_IDENTITY_AUTHORITY_HOST = idp.url; env.AZURE_CLIENT_ID = 'my-identity';
 * ... idp.requests  // what the identity library asked for
 * await idp.stop();
 */
import type { IncomingHttpHeaders } from 'node:http';
import { startLoopbackServer } from './loopback-server.js';

export interface TokenEndpointOptions {
  /** User-assigned identities that exist; a request for another client_id gets IMDS's 400 "Identity not found". Empty: any. */
  clientIds?: string[];
  /**
   * Audience written into tokens. By default the one Entra ID gives for the resource asked for: Batch's
   * (`https://batch.core.windows.net/`) for the Batch scope, otherwise `https://storage.azure.com`. Set
   * another to get tokens the service refuses.
   */
  audience?: string;
}

export interface TokenRequest {
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
}

export interface TokenEndpoint {
  /** `http://127.0.0.1:PORT` (for AZURE_POD_IDENTITY_AUTHORITY_HOST). */
  url: string;
  /** App Service form: IDENTITY_ENDPOINT and IDENTITY_HEADER values. */
  appService: { endpoint: string; header: string };
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const TENANT = '72f988bf-0000-4000-8000-000000000001';

function b64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

export function makeToken(audience: string, subject: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { aud: audience, iss: `https://sts.windows.net/${TENANT}/`, iat: now - 60, nbf: now - 60, exp: now + 3600, oid: subject, sub: subject, tid: TENANT, appid: subject };
  return `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(payload)}.${b64url('not-a-real-signature')}`;
}

export async function startTokenEndpoint(options: TokenEndpointOptions = {}): Promise<TokenEndpoint> {
  const requests: TokenRequest[] = [];
  const header = `hdr-${Math.random().toString(36).slice(2)}`;
  const server = await startLoopbackServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // The identity library asks for `.../token/`; real endpoints accept both forms.
    url.pathname = url.pathname.replace(/\/+$/, '') || '/';
    const query = Object.fromEntries(url.searchParams);
    requests.push({ path: url.pathname, query, headers: req.headers });
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const imds = url.pathname === '/metadata/identity/oauth2/token';
    const appService = url.pathname === '/msi/token';
    if (imds && req.headers.metadata !== 'true') return send(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    if (appService && req.headers['x-identity-header'] !== header) return send(401, { error: 'unauthorized', error_description: 'bad X-IDENTITY-HEADER' });
    if (!imds && !appService) return send(404, { error: 'not_found' });
    const clientId = query.client_id ?? 'system-assigned';
    if (options.clientIds?.length && !options.clientIds.includes(clientId)) {
      return send(400, { error: 'invalid_request', error_description: 'Identity not found' });
    }
    const resource = (query.resource ?? '').replace(/\/\.default$/, '');
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    send(200, {
      access_token: makeToken(options.audience ?? (/^https:\/\/batch\.core\.windows\.net\/?$/.test(resource) ? resource : 'https://storage.azure.com'), clientId),
      client_id: clientId,
      expires_in: '3600',
      expires_on: String(expiresOn),
      ext_expires_in: '3600',
      not_before: String(expiresOn - 3660),
      resource,
      token_type: 'Bearer',
    });
  });
  const { url } = server;
  return { url, appService: { endpoint: `${url}/msi/token`, header }, requests, stop: server.stop };
}
