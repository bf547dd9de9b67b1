// Request authentication as the Batch service checks it: a bearer token it was told to accept,
// a job-scoped authentication token it issued to a job manager task, or the account's shared key.
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
    const v = h(name);
    const empty = (name === 'content-length' && v === '0') || (name === 'date' && h('ocp-date') !== '');
    s += `${empty ? '' : v}\n`;
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

export type Principal = { kind: 'account' } | { kind: 'job'; jobId: string };

export function authenticate(
  req: IncomingMessage,
  opts: { accountName: string; accountKey: string; acceptTokens: Set<string>; jobTokens: Map<string, string> },
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
    const jobId = opts.jobTokens.get(token);
    if (jobId !== undefined) return { kind: 'job', jobId };
    throw failed('The bearer token is not valid for this account.');
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
