// A loopback stand-in for the Azure Communication Services Email operations the SDK calls, from the REST
// reference (azure-rest-api-specs specification/communication/data-plane/Email/stable/2025-09-01/
// CommunicationServicesEmail.json):
//   Email_Send          POST /emails:send?api-version=...  body EmailMessage -> 202 EmailSendResult,
//                       headers Operation-Location and retry-after; optional Operation-Id header names the operation
//   Email_GetSendResult GET  /emails/operations/{operationId} -> 200 EmailSendResult (Running, then Succeeded or
//                       Failed with an ErrorDetail), retry-after while not terminal
// Errors answer with common-types data-plane v1 ErrorResponse ({ error: ErrorDetail }) and x-ms-error-code.
// Every request must carry the HMAC-SHA256 signature made with the connection string's access key, or a
// Microsoft Entra bearer token (what the SDK sends with a TokenCredential).
// HTTPS with a throw-away certificate: the SDK's pipeline refuses plain http.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { makeCertificate, type Certificate } from '../harness/certificate.js';
import { startLoopbackServer } from '../harness/loopback-server.js';
import { refuseSignature } from './hmac.js';

/** Api versions of the stable EmailClient specs. */
const API_VERSIONS = new Set(['2023-03-31', '2025-09-01']);

export interface SendFault {
  status: number;
  /** `retry-after` seconds on the answer. */
  retryAfterSeconds?: number;
  code?: string;
  message?: string;
}

export interface EmailStandinOptions {
  /** Answers to the first sends, in order, before sends are accepted (throttling, outages). */
  sendFaults?: SendFault[];
  /** Polls answered Running before an accepted send reaches its final status (default 1). */
  runningPolls?: number;
  /** Final status of accepted sends, in order; the last repeats (default Succeeded). */
  outcomes?: Array<'Succeeded' | { status: 'Failed'; code: string; message: string }>;
  /** Sender addresses of the linked domain; others are refused as the service does (default: any). */
  senders?: string[];
  /** A Microsoft Entra access token accepted as `Authorization: Bearer` instead of the HMAC signature. */
  token?: string;
}

export interface ReceivedSend {
  operationId: string;
  headers: IncomingMessage['headers'];
  body: any;
}

export interface EmailStandin {
  endpoint: string;
  /** `endpoint=...;accesskey=...`, the shape of the resource's connection string. */
  connectionString: string;
  accessKey: string;
  /** PEM of the server's certificate: pass as `tlsCa`, or its file as NODE_EXTRA_CA_CERTS to a child process. */
  ca: string;
  certPath: string;
  /** Accepted sends (202), in order. */
  sends: ReceivedSend[];
  /** Every request: method, path and status answered. */
  log: Array<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

interface Operation {
  polls: number;
  final: 'Succeeded' | { status: 'Failed'; code: string; message: string };
}

/** Why `body` is not an EmailMessage as the spec defines it, or undefined. */
export function refuseEmailMessage(body: unknown): string | undefined {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isStr = (v: unknown) => typeof v === 'string';
  const known = (o: Record<string, unknown>, keys: string[], at: string) => {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    return extra.length ? `${at}: unknown propert${extra.length === 1 ? 'y' : 'ies'} ${extra.join(', ')}` : undefined;
  };
  // EmailAddress: address (required), displayName.
  const addresses = (v: unknown, at: string): string | undefined => {
    if (!Array.isArray(v)) return `${at} must be an array of EmailAddress`;
    for (const [i, a] of v.entries()) {
      if (!isObj(a) || !isStr(a.address) || !(a.address as string).includes('@')) return `${at}[${i}].address is required`;
      if (a.displayName !== undefined && !isStr(a.displayName)) return `${at}[${i}].displayName must be a string`;
      const k = known(a, ['address', 'displayName'], `${at}[${i}]`);
      if (k) return k;
    }
    return undefined;
  };
  if (!isObj(body)) return 'the body must be an EmailMessage object';
  const top = known(body, ['headers', 'senderAddress', 'content', 'recipients', 'attachments', 'replyTo', 'userEngagementTrackingDisabled'], 'EmailMessage');
  if (top) return top;
  if (!isStr(body.senderAddress) || !body.senderAddress) return 'senderAddress is required';
  // EmailContent: subject (required), plainText, html.
  if (!isObj(body.content) || !isStr(body.content.subject)) return 'content.subject is required';
  const c = known(body.content, ['subject', 'plainText', 'html'], 'content');
  if (c) return c;
  for (const k of ['plainText', 'html'] as const) if (body.content[k] !== undefined && !isStr(body.content[k])) return `content.${k} must be a string`;
  if (body.content.plainText === undefined && body.content.html === undefined) return 'content needs plainText or html';
  // EmailRecipients: to (required), cc, bcc.
  if (!isObj(body.recipients)) return 'recipients is required';
  const r = known(body.recipients, ['to', 'cc', 'bcc'], 'recipients');
  if (r) return r;
  for (const k of ['to', 'cc', 'bcc'] as const) {
    if (k !== 'to' && body.recipients[k] === undefined) continue;
    const why = addresses(body.recipients[k], `recipients.${k}`);
    if (why) return why;
  }
  if ((body.recipients.to as unknown[]).length === 0) return 'recipients.to needs at least one address';
  if (body.headers !== undefined && (!isObj(body.headers) || !Object.values(body.headers).every(isStr))) return 'headers must map names to strings';
  if (body.replyTo !== undefined) return addresses(body.replyTo, 'replyTo');
  return undefined;
}

// One certificate for every stand-in of a test process: making one takes a second or more on a busy machine.
let shared: Certificate | undefined;
function certificate(): Certificate {
  if (!shared) {
    const made = makeCertificate();
    shared = made;
    process.once('exit', () => made.remove());
  }
  return shared;
}

export async function startEmailStandin(options: EmailStandinOptions = {}): Promise<EmailStandin> {
  const accessKey = randomBytes(32).toString('base64');
  const faults = [...(options.sendFaults ?? [])];
  const outcomes = [...(options.outcomes ?? ['Succeeded'])];
  const operations = new Map<string, Operation>();
  const sends: ReceivedSend[] = [];
  const log: EmailStandin['log'] = [];
  let accepted = 0;

  const cert = certificate();
  const server = await startLoopbackServer(
    (req, res, sent) => {
      const raw = sent.toString('utf8');
      const url = new URL(req.url!, `https://${req.headers.host}`);
      const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        log.push({ method: req.method!, path: url.pathname, status });
        res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }).end(body === undefined ? undefined : JSON.stringify(body));
      };
      // ErrorResponse with its ErrorDetail, and the code again in x-ms-error-code.
      const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
        answer(status, { error: { code, message } }, { 'x-ms-error-code': code, ...headers });

      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (bearer !== undefined) {
        if (!options.token || bearer !== options.token) return error(401, 'Denied', 'The bearer token is not valid for this resource');
      } else {
        const refused = refuseSignature({ method: req.method!, pathAndQuery: req.url!, host: req.headers.host ?? '', headers: req.headers, body: raw }, accessKey);
        if (refused) return error(401, 'Denied', `Denied by the HMAC check: ${refused}`);
      }
      const apiVersion = url.searchParams.get('api-version');
      if (!apiVersion || !API_VERSIONS.has(apiVersion)) return error(400, 'InvalidApiVersion', `Unsupported api-version "${apiVersion}"`);

      if (req.method === 'POST' && url.pathname === '/emails:send') {
        const fault = faults.shift();
        if (fault) {
          return error(fault.status, fault.code ?? (fault.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable'), fault.message ?? 'Try again later', {
            ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
          });
        }
        if (!/^application\/json/.test(req.headers['content-type'] ?? '')) return error(415, 'UnsupportedMediaType', 'Expected application/json');
        let body: any;
        try {
          body = JSON.parse(raw);
        } catch {
          return error(400, 'InvalidRequest', 'The body is not JSON');
        }
        const why = refuseEmailMessage(body);
        if (why) return error(400, 'BadRequest', why);
        if (options.senders && !options.senders.includes(body.senderAddress)) {
          return error(400, 'InvalidSenderUserName', `Sender ${body.senderAddress} is not configured for the linked domain`);
        }
        const given = req.headers['operation-id'];
        const operationId = typeof given === 'string' && given ? given : randomUUID();
        sends.push({ operationId, headers: req.headers, body });
        const final = outcomes[Math.min(accepted, outcomes.length - 1)]!;
        accepted++;
        operations.set(operationId, { polls: 0, final });
        return answer(202, { id: operationId, status: 'Running' }, {
          'operation-location': `${url.origin}/emails/operations/${operationId}?api-version=${apiVersion}`,
          'retry-after': '0',
        });
      }

      const m = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && m) {
        const op = operations.get(decodeURIComponent(m[1]!));
        if (!op) return error(404, 'NotFound', `No operation ${m[1]}`);
        op.polls++;
        const id = decodeURIComponent(m[1]!);
        if (op.polls <= (options.runningPolls ?? 1)) return answer(200, { id, status: 'Running' }, { 'retry-after': '0' });
        if (op.final === 'Succeeded') return answer(200, { id, status: 'Succeeded' });
        return answer(200, { id, status: 'Failed', error: { code: op.final.code, message: op.final.message } });
      }
      return error(404, 'NotFound', `${req.method} ${url.pathname} is not an Email operation`);
    },
    { tls: cert },
  );
  const endpoint = server.url;
  return {
    endpoint,
    connectionString: `endpoint=${endpoint}/;accesskey=${accessKey}`,
    accessKey,
    ca: cert.cert,
    certPath: cert.certPath,
    sends,
    log,
    close: server.stop,
  };
}
