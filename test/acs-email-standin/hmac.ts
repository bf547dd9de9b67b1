// The HMAC-SHA256 request signature of Azure Communication Services, as the service checks it.
// Algorithm: docs "Sign an HTTP request" (learn.microsoft.com/azure/communication-services/tutorials/hmac-header-tutorial):
//   string to sign = VERB + "\n" + path and query + "\n" + x-ms-date + ";" + host + ";" + x-ms-content-sha256
//   signature      = base64(HMAC-SHA256(base64-decoded access key, string to sign))
//   Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<signature>
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedRequest {
  method: string;
  /** Path and query as sent, e.g. `/emails:send?api-version=2025-09-01`. */
  pathAndQuery: string;
  host: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The documented content hash: base64 SHA-256 of the body (of the empty string for a GET). */
export function contentHash(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('base64');
}

export function signature(accessKey: string, stringToSign: string): string {
  return createHmac('sha256', Buffer.from(accessKey, 'base64')).update(stringToSign, 'utf8').digest('base64');
}

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Why the service would refuse this request's signature, or undefined when it verifies. The date may be at
 * most 15 minutes off, as for the other Azure HMAC schemes.
 */
export function refuseSignature(req: SignedRequest, accessKey: string, nowMs = Date.now()): string | undefined {
  const auth = header(req, 'authorization');
  const date = header(req, 'x-ms-date');
  const hash = header(req, 'x-ms-content-sha256');
  if (!auth || !date || !hash) return 'Authorization, x-ms-date and x-ms-content-sha256 are required';
  const m = /^HMAC-SHA256 SignedHeaders=([^&]+)&Signature=(.+)$/.exec(auth);
  if (!m) return 'Authorization is not HMAC-SHA256 SignedHeaders=...&Signature=...';
  if (m[1] !== 'x-ms-date;host;x-ms-content-sha256') return `unexpected SignedHeaders ${m[1]}`;
  const at = Date.parse(date);
  if (!Number.isFinite(at) || Math.abs(nowMs - at) > 15 * 60_000) return `x-ms-date "${date}" is not within 15 minutes of now`;
  if (hash !== contentHash(req.body)) return 'x-ms-content-sha256 does not match the body';
  const expected = Buffer.from(signature(accessKey, `${req.method.toUpperCase()}\n${req.pathAndQuery}\n${date};${req.host};${hash}`));
  const given = Buffer.from(m[2]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'the signature does not match';
  return undefined;
}
