// Request authentication as the Batch service checks it: a bearer token it was told to accept, a
// Microsoft Entra token for a managed identity holding a role on the account, or the account's shared key.
// (Task authentication tokens were retired in September 2024: the service no longer issues them.)
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ServiceError } from './validate.js';

const STANDARD = [
  'content-encoding',
  'content-language',
  'content-length',
  'content-md5',
  'content-type',
  'date',
  'if-modified-since',
  'if-match',
  'if-none-match',
  'if-unmodified-since',
  'range',
];

/** The shared-key string-to-sign, built from the request as received (written apart from the client's on purpose). */
export function stringToSignFor(req: IncomingMessage, accountName: string): string {
  const h = (n: string): string => {
    const v = req.headers[n];
    return Array.isArray(v) ? v.join(',') : (v ?? '');
  };
  let s = `${req.method}\n`;
  for (const name of STANDARD) {
    let v = h(name);
    // Content-Length as the official SDKs sign it: "0" when a request other than GET or HEAD carries none.
    if (name === 'content-length' && v === '' && req.method !== 'GET' && req.method !== 'HEAD') v = '0';
    if (name === 'date' && h('ocp-date') !== '') v = '';
    s += `${v}\n`;
  }
  for (const name of Object.keys(req.headers).filter((n) => n.startsWith('ocp-')).sort()) s += `${name}:${h(name).trim()}\n`;
  const [rawPath, rawQuery = ''] = (req.url ?? '/').split('?');
  s += `/${accountName}${rawPath}`;
  const q = new URLSearchParams(rawQuery);
  const byName = new Map<string, string[]>();
  for (const [k, v] of q) byName.set(k.toLowerCase(), [...(byName.get(k.toLowerCase()) ?? []), v]);
  for (const k of [...byName.keys()].sort()) s += `\n${k}:${byName.get(k)!.sort().join(',')}`;
  return s;
}

export type Principal = { kind: 'account' } | { kind: 'identity'; objectId: string };

/** The audience of a Microsoft Entra token for the Batch data plane (scope `https://batch.core.windows.net//.default`). */
const BATCH_AUDIENCE = /^https:\/\/batch\.core\.windows\.net\/?$/;

/**
 * The claims of a JWT for Batch, or undefined when it is not one. As Azurite's `--oauth basic` does, the
 * audience, expiry and not-before times are checked and the signature is not (the tokens come from a loopback endpoint).
 */
function batchTokenClaims(token: string): { oid?: string; exp?: number; nbf?: number; aud?: string } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { oid?: string; exp?: number; nbf?: number; aud?: string };
    return typeof claims === 'object' && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
}

export function authenticate(
  req: IncomingMessage,
  opts: { accountName: string; accountKey: string; acceptTokens: Set<string>; identities: Set<string> },
): Principal {
  const auth = req.headers.authorization;
  if (!auth) {
    throw new ServiceError(401, 'MissingRequiredHeader', 'An HTTP header that is mandatory for this request is not specified.', [
      { key: 'HeaderName', value: 'Authorization' },
    ]);
  }
  const failed = (detail: string) =>
    new ServiceError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.', [
      { key: 'AuthenticationErrorDetail', value: detail },
    ]);
  const bearer = /^Bearer\s+(.+)$/i.exec(auth);
  if (bearer) {
    const token = bearer[1]!.trim();
    if (opts.acceptTokens.has(token)) return { kind: 'account' };
    const claims = batchTokenClaims(token);
    if (!claims) throw failed('The bearer token is not valid for this account.');
    const now = Date.now() / 1000;
    if (!BATCH_AUDIENCE.test(claims.aud ?? '')) throw failed(`The token's audience ${claims.aud ?? '(none)'} is not https://batch.core.windows.net/.`);
    if (!(typeof claims.exp === 'number' && claims.exp > now) || (typeof claims.nbf === 'number' && claims.nbf > now + 300)) throw failed('The token has expired or is not yet valid.');
    // A valid token of an identity with no role on the account is authenticated but not authorized.
    if (!claims.oid || !opts.identities.has(claims.oid)) {
      throw new ServiceError(403, 'AuthorizationFailure', 'This request is not authorized to perform this operation.');
    }
    return { kind: 'identity', objectId: claims.oid };
  }
  const shared = /^SharedKey\s+([^:]+):(.+)$/.exec(auth);
  if (!shared) throw failed('The authorization header is neither a bearer token nor a shared key.');
  if (shared[1] !== opts.accountName) throw failed(`The account name ${shared[1]} does not match this account.`);
  if (!req.headers['ocp-date'] && !req.headers.date) {
    throw new ServiceError(400, 'MissingRequiredHeader', 'An HTTP header that is mandatory for this request is not specified.', [
      { key: 'HeaderName', value: 'ocp-date' },
    ]);
  }
  const sent = Date.parse(String(req.headers['ocp-date'] ?? req.headers.date));
  if (!(Math.abs(Date.now() - sent) <= 15 * 60_000)) {
    throw failed('The request must reach the service within 15 minutes of its ocp-date.');
  }
  const expected = createHmac('sha256', Buffer.from(opts.accountKey, 'base64')).update(stringToSignFor(req, opts.accountName), 'utf8').digest();
  const given = Buffer.from(shared[2]!, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw failed('The MAC signature found in the HTTP request is not the same as any computed signature.');
  }
  return { kind: 'account' };
}
