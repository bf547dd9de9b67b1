import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLoopbackServer, type LoopbackServer } from './harness/loopback-server.js';
import type { Summary } from '../src/interfaces.js';
import { UsageError } from '../src/errors.js';
import { checkNotifyUrl, notifyJobEnd, outcomeOf, signWebhook, verifyWebhookSignature } from '../src/report/notify.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const servers: LoopbackServer[] = [];

/** A loopback receiver that records every request and answers with the next status in `answers` (then the last). */
async function receiver(answers: Array<number | { status: number; headers?: Record<string, string> }>, port = 0) {
  const received: Received[] = [];
  const server = await startLoopbackServer(
    (req, res, body) => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: body.toString('utf8') });
      const a = answers[Math.min(received.length - 1, answers.length - 1)];
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      res.writeHead(status, headers).end('ok');
    },
    { port },
  );
  servers.push(server);
  return { received, port: server.port };
}

/** A loopback port that nothing listens on (yet). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

function summary(counts: Partial<Summary['counts']> = {}): Summary {
  const c = { total: 3, converted: 2, skipped: 0, failed: 1, ...counts };
  return {
    counts: c,
    bytesIn: 3000,
    bytesOut: 4500,
    seconds: 1.5,
    imagesPerSecond: 1.33,
    failures: c.failed ? [{ name: 'broken <x>.jpg', code: 'CORRUPT_IMAGE', message: 'premature end' }] : [],
    source: 'in',
    destination: 'out',
  };
}

const fast = { minDelayMs: 5, maxDelayMs: 50 };

describe('job-end notification', () => {
  test('posts the summary JSON with its outcome and a signature over the timestamp and exact body', async () => {
    const r = await receiver([204]);
    const s = summary();
    const before = process.env.PIXBATCH_WEBHOOK_SECRET;
    process.env.PIXBATCH_WEBHOOK_SECRET = 'shh-its-a-secret';
    let result;
    try {
      result = await notifyJobEnd(`http://127.0.0.1:${r.port}/hooks/pixbatch?token=abc`, s, fast);
    } finally {
      if (before === undefined) delete process.env.PIXBATCH_WEBHOOK_SECRET;
      else process.env.PIXBATCH_WEBHOOK_SECRET = before;
    }
    assert.deepEqual(result, { delivered: true, attempts: 1, status: 204 });
    assert.equal(r.received.length, 1);
    const [got] = r.received;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/hooks/pixbatch?token=abc');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-pixbatch-outcome'], 'partial');
    assert.deepEqual(JSON.parse(got.body), s);
    const ts = got.headers['x-pixbatch-timestamp'] as string;
    assert.match(ts, /^\d+$/);
    const expected = createHmac('sha256', 'shh-its-a-secret').update(`${ts}.${got.body}`).digest('hex');
    assert.equal(got.headers['x-pixbatch-signature'], `sha256=${expected}`);
    assert.equal(verifyWebhookSignature('shh-its-a-secret', got.body, ts, got.headers['x-pixbatch-signature'] as string), true);
    assert.equal(verifyWebhookSignature('another-secret', got.body, ts, got.headers['x-pixbatch-signature'] as string), false);
  });

  test('sends no signature when there is no secret', async () => {
    const r = await receiver([200]);
    const result = await notifyJobEnd(`http://127.0.0.1:${r.port}/`, summary({ failed: 0 }), { ...fast, secret: '' });
    assert.equal(result.delivered, true);
    assert.equal(r.received[0].headers['x-pixbatch-signature'], undefined);
    assert.equal(r.received[0].headers['x-pixbatch-outcome'], 'success');
  });

  test('reaches a receiver that is down at first once it comes up', async () => {
    const port = await closedPort();
    let r: Awaited<ReturnType<typeof receiver>> | undefined;
    const retries: number[] = [];
    const result = await notifyJobEnd(`http://127.0.0.1:${port}/`, summary(), {
      ...fast,
      secret: 'k',
      onRetry: async ({ attempt }) => {
        retries.push(attempt);
        // The first attempt found the port closed: open it before the retry.
        if (!r) r = await receiver([200], port);
      },
    });
    assert.deepEqual(retries, [1]);
    assert.deepEqual(result, { delivered: true, attempts: 2, status: 200 });
    assert.equal(r!.received.length, 1);
    const got = r!.received[0];
    assert.equal(verifyWebhookSignature('k', got.body, got.headers['x-pixbatch-timestamp'] as string, got.headers['x-pixbatch-signature'] as string), true);
  });

  test('retries 5xx and 429 answers with the same delivery id, then succeeds', async () => {
    const r = await receiver([503, { status: 429, headers: { 'retry-after': '0' } }, 500, 201]);
    const result = await notifyJobEnd(`http://127.0.0.1:${r.port}/`, summary(), { ...fast, retries: 5 });
    assert.deepEqual(result, { delivered: true, attempts: 4, status: 201 });
    assert.equal(r.received.length, 4);
    assert.equal(new Set(r.received.map((x) => x.headers['x-pixbatch-delivery'])).size, 1);
    assert.equal(new Set(r.received.map((x) => x.body)).size, 1);
  });

  test('does not retry a 4xx answer and warns instead of throwing', async () => {
    const r = await receiver([403]);
    const warnings: string[] = [];
    const result = await notifyJobEnd(`http://127.0.0.1:${r.port}/secret-token-path`, summary(), { ...fast, warn: (m) => warnings.push(m) });
    assert.equal(r.received.length, 1);
    assert.deepEqual(result, { delivered: false, attempts: 1, status: 403, error: 'receiver answered HTTP 403' });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /warning: job-end notification to http:\/\/127\.0\.0\.1:\d+ not delivered after 1 attempt: receiver answered HTTP 403/);
    assert.ok(!warnings[0].includes('secret-token-path'), 'the warning leaves out the path, which may carry a token');
  });

  test('gives up after the retries are spent and reports a warning', async () => {
    const r = await receiver([502]);
    const warnings: string[] = [];
    const result = await notifyJobEnd(`http://127.0.0.1:${r.port}/`, summary(), { ...fast, retries: 2, warn: (m) => warnings.push(m) });
    assert.equal(r.received.length, 3);
    assert.equal(result.delivered, false);
    assert.equal(result.attempts, 3);
    assert.match(warnings[0], /after 3 attempts: receiver answered HTTP 502/);
  });

  test('stops retrying when the caller aborts', async () => {
    const port = await closedPort();
    const controller = new AbortController();
    const result = await notifyJobEnd(`http://127.0.0.1:${port}/`, summary(), {
      minDelayMs: 60_000,
      signal: controller.signal,
      warn: () => {},
      onRetry: () => controller.abort(new Error('job cancelled')),
    });
    assert.equal(result.delivered, false);
    assert.equal(result.attempts, 1);
  });
});

describe('webhook signature and outcome', () => {
  test('a signature does not verify for a changed body or a stale timestamp', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    const ts = String(now / 1000);
    const sig = signWebhook('k', ts, '{"a":1}');
    assert.equal(verifyWebhookSignature('k', '{"a":1}', ts, sig, { nowMs: now }), true);
    assert.equal(verifyWebhookSignature('k', '{"a":2}', ts, sig, { nowMs: now }), false);
    assert.equal(verifyWebhookSignature('k', '{"a":1}', String(now / 1000 + 1), sig, { nowMs: now }), false);
    assert.equal(verifyWebhookSignature('k', '{"a":1}', ts, sig, { nowMs: now + 301_000 }), false);
    assert.equal(verifyWebhookSignature('k', '{"a":1}', ts, undefined, { nowMs: now }), false);
  });

  test('the outcome is success without failures, failed when nothing else happened, partial otherwise', () => {
    assert.equal(outcomeOf(summary({ failed: 0 })), 'success');
    assert.equal(outcomeOf(summary({ total: 0, converted: 0, failed: 0 })), 'success');
    assert.equal(outcomeOf(summary({ converted: 0, skipped: 0, failed: 2 })), 'failed');
    assert.equal(outcomeOf(summary({ converted: 0, skipped: 4, failed: 2 })), 'partial');
    assert.equal(outcomeOf(summary({ converted: 1, failed: 1 })), 'partial');
  });

  test('a notify URL that is not http or https is a usage error', () => {
    assert.throws(() => checkNotifyUrl('ftp://example.com/x'), UsageError);
    assert.throws(() => checkNotifyUrl('not a url'), UsageError);
    assert.equal(checkNotifyUrl('https://example.com/hook').host, 'example.com');
  });
});
