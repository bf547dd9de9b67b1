import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../src/interfaces.js';
import { UsageError } from '../src/errors.js';
import { checkNotifyTargets, notifyAll, notifyJobEnd } from '../src/report/notify.js';
import { jobEndMail, mailtoAddress, resolveEmailSettings, type EmailSettings } from '../src/report/email.js';
import { contentHash, refuseSignature } from './acs-email-standin/hmac.js';
import { refuseEmailMessage, startEmailStandin, type EmailStandin, type EmailStandinOptions } from './acs-email-standin/server.js';
import { FixedTokenCredential } from './arm-standin/credential.js';
import { runPixbatch } from './harness/cli.js';
import { startLoopbackServer } from './harness/loopback-server.js';
import { jpegBuffer } from './harness/images.js';

const SENDER = 'DoNotReply@0000-test.azurecomm.net';
const fast = { minDelayMs: 5, maxDelayMs: 2000, pollIntervalMs: 5 };
const standins: EmailStandin[] = [];

async function standin(options: EmailStandinOptions = {}): Promise<{ s: EmailStandin; email: EmailSettings }> {
  const s = await startEmailStandin(options);
  standins.push(s);
  return { s, email: { connectionString: s.connectionString, sender: SENDER, tlsCa: s.ca } };
}

afterEach(async () => {
  for (const s of standins.splice(0)) await s.close();
});

function summary(over: Partial<Summary> = {}): Summary {
  return {
    counts: { total: 14, converted: 10, skipped: 1, failed: 3 },
    bytesIn: 3 * 1024 * 1024,
    bytesOut: 5 * 1024 * 1024,
    seconds: 42.5,
    imagesPerSecond: 0.24,
    failures: [
      { name: 'a/broken <1>.jpg', code: 'CORRUPT_IMAGE', message: 'premature end of JPEG' },
      { name: 'b.jpg', code: 'TOO_LARGE', message: 'over 100000000 pixels' },
      { name: 'c.jpg', code: 'TASK_FAILED', message: 'task shard-00001 failed' },
    ],
    source: 'https://acct.blob.core.windows.net/images',
    destination: 'https://acct.blob.core.windows.net/converted',
    jobId: 'pixbatch-20260101-0200-abcd',
    cost: { currency: 'USD', total: 0.0123 },
    ...over,
  };
}

describe('the ACS request signature check', () => {
  // Known answers from the SDK's own tests (azure-sdk-for-js communication-common
  // test/public/communicationKeyCredentialPolicy.spec.ts): key "pw==", GET, empty body, host example.com.
  const base = {
    method: 'GET',
    host: 'example.com',
    body: '',
    headers: {
      'x-ms-date': 'Wed, 13 Apr 2022 18:09:12 GMT',
      'x-ms-content-sha256': '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
    },
  };
  const now = Date.parse('2022-04-13T18:09:12Z');
  const signed = (pathAndQuery: string, sig: string) => ({
    ...base,
    pathAndQuery,
    headers: { ...base.headers, authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${sig}` },
  });

  test('accepts the published signatures for a path with and without a query', () => {
    assert.equal(contentHash(''), base.headers['x-ms-content-sha256']);
    assert.equal(refuseSignature(signed('/testPath?testQuery=test', 'DGdgwggJWnQyc6EHjR/Vbqg1ES64KpD6U2XwTDDj3tU='), 'pw==', now), undefined);
    assert.equal(refuseSignature(signed('/testPath', '+6tWkg3lNKVjQHHmxkdGQcJjUgzclsWTMebnuCz1ngU='), 'pw==', now), undefined);
  });

  test('refuses another path, key, body, or a stale date', () => {
    const ok = signed('/testPath', '+6tWkg3lNKVjQHHmxkdGQcJjUgzclsWTMebnuCz1ngU=');
    assert.match(refuseSignature({ ...ok, pathAndQuery: '/other' }, 'pw==', now)!, /signature does not match/);
    assert.match(refuseSignature(ok, 'cHc=', now)!, /signature does not match/);
    assert.match(refuseSignature({ ...ok, body: '{}' }, 'pw==', now)!, /x-ms-content-sha256/);
    assert.match(refuseSignature(ok, 'pw==', now + 16 * 60_000)!, /within 15 minutes/);
  });
});

describe('job-end mail through Communication Services Email', () => {
  test('sends one message to every mailto: target with the summary, then polls the operation to Succeeded', async () => {
    const { s, email } = await standin({ runningPolls: 2 });
    const warnings: string[] = [];
    const results = await notifyAll(['mailto:ops@example.com', 'mailto:night-shift@example.com'], summary(), {
      ...fast,
      email,
      hints: { report: ['report: pixbatch batch report pixbatch-20260101-0200-abcd'] },
      warn: (m) => warnings.push(m),
    });
    assert.deepEqual(results, [{ delivered: true, attempts: 1, status: 202 }]);
    assert.deepEqual(warnings, []);
    assert.equal(s.sends.length, 1);
    const { body, headers, operationId } = s.sends[0]!;
    assert.equal(refuseEmailMessage(body), undefined);
    assert.equal(body.senderAddress, SENDER);
    assert.deepEqual(body.recipients, { to: [{ address: 'ops@example.com' }, { address: 'night-shift@example.com' }] });
    assert.equal(headers['operation-id'], operationId);
    assert.equal(body.content.subject, 'pixbatch job pixbatch-20260101-0200-abcd finished with 3 failed: 10 converted, 1 skipped, 3 failed');
    const text: string = body.content.plainText;
    for (const part of ['partial', '10 converted, 1 skipped, 3 failed of 14', 'read 3.0 MB, wrote 5.0 MB', '42.5 s', '0.0123 USD', 'a/broken <1>.jpg: CORRUPT_IMAGE premature end of JPEG', 'pixbatch batch report pixbatch-20260101-0200-abcd']) {
      assert.ok(text.includes(part), `the text has "${part}":\n${text}`);
    }
    assert.ok(body.content.html.includes('a/broken &lt;1&gt;.jpg'), 'names are escaped in the HTML part');
    // Send, two polls answered Running, one answered Succeeded.
    assert.deepEqual(s.log.map((l) => `${l.method} ${l.status}`), ['POST 202', 'GET 200', 'GET 200', 'GET 200']);
    assert.ok(s.log.slice(1).every((l) => l.path === `/emails/operations/${operationId}`));
  });

  test('a message the service fails to deliver is a warning, not retried', async () => {
    const { s, email } = await standin({ outcomes: [{ status: 'Failed', code: 'EmailDropped', message: 'Email was dropped after several attempts to deliver.' }] });
    const warnings: string[] = [];
    const result = await notifyJobEnd('mailto:ops@example.com', summary(), { ...fast, email, warn: (m) => warnings.push(m) });
    assert.equal(result.delivered, false);
    assert.equal(result.attempts, 1);
    assert.equal(s.sends.length, 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /warning: job-end mail to ops@example\.com not sent after 1 attempt: .*EmailDropped/);
  });

  test('a throttled send waits for Retry-After and is sent again with the same operation id', async () => {
    const { s, email } = await standin({ sendFaults: [{ status: 429, retryAfterSeconds: 1 }] });
    const started = Date.now();
    const retries: number[] = [];
    const result = await notifyJobEnd('mailto:ops@example.com', summary(), { ...fast, email, onRetry: ({ attempt }) => void retries.push(attempt) });
    assert.deepEqual(result, { delivered: true, attempts: 2, status: 202 });
    assert.deepEqual(retries, [1]);
    assert.ok(Date.now() - started >= 950, 'waited the second the service asked for');
    assert.deepEqual(s.log.filter((l) => l.method === 'POST').map((l) => l.status), [429, 202]);
    assert.equal(s.sends.length, 1);
  });

  test('server errors are retried until the retries are spent, then warned about', async () => {
    const { s, email } = await standin({ sendFaults: [{ status: 503 }, { status: 500 }, { status: 503 }] });
    const warnings: string[] = [];
    const result = await notifyJobEnd('mailto:ops@example.com', summary(), { ...fast, retries: 2, email, warn: (m) => warnings.push(m) });
    assert.equal(result.delivered, false);
    assert.equal(result.attempts, 3);
    assert.equal(result.status, 503);
    assert.equal(s.sends.length, 0);
    assert.match(warnings[0]!, /after 3 attempts: service answered HTTP 503 ServiceUnavailable/);
  });

  test('a sender the resource does not have is refused once, without retries', async () => {
    const { s, email } = await standin({ senders: ['DoNotReply@other.azurecomm.net'] });
    const warnings: string[] = [];
    const result = await notifyJobEnd('mailto:ops@example.com', summary(), { ...fast, email, warn: (m) => warnings.push(m) });
    assert.equal(result.delivered, false);
    assert.equal(result.attempts, 1);
    assert.equal(s.log.length, 1);
    assert.match(warnings[0]!, /HTTP 400 InvalidSenderUserName/);
  });

  test('a wrong access key is refused by the signature check and warned about', async () => {
    const { s, email } = await standin();
    const wrong = { ...email, connectionString: `endpoint=${s.endpoint}/;accesskey=${Buffer.from('not the key').toString('base64')}` };
    const warnings: string[] = [];
    const result = await notifyJobEnd('mailto:ops@example.com', summary(), { ...fast, email: wrong, warn: (m) => warnings.push(m) });
    assert.equal(result.delivered, false);
    assert.deepEqual(s.log.map((l) => l.status), [401]);
    assert.match(warnings[0]!, /HTTP 401 Denied/);
  });

  test('without a connection string the mail is sent with an Entra token for the Communication Services scope', async () => {
    const { s } = await standin({ token: 'entra-token-1' });
    const credential = new FixedTokenCredential('entra-token-1');
    const result = await notifyJobEnd('mailto:ops@example.com', summary(), { ...fast, email: { endpoint: s.endpoint, sender: SENDER, credential, tlsCa: s.ca } });
    assert.deepEqual(result, { delivered: true, attempts: 1, status: 202 });
    assert.equal(s.sends[0]!.headers.authorization, 'Bearer entra-token-1');
    assert.ok(credential.scopes.includes('https://communication.azure.com//.default'), credential.scopes.join(' '));
  });

  test('webhooks and mail go out side by side', async () => {
    const hooks: string[] = [];
    const hook = await startLoopbackServer((req, res) => {
      hooks.push(req.url!);
      res.end();
    });
    try {
      const { s, email } = await standin();
      const results = await notifyAll([`${hook.url}/hook`, 'mailto:ops@example.com'], summary(), { ...fast, email, secret: '' });
      assert.equal(results.length, 2);
      assert.ok(results.every((r) => r.delivered));
      assert.deepEqual(hooks, ['/hook']);
      assert.equal(s.sends.length, 1);
    } finally {
      await hook.stop();
    }
  });
});

describe('mail settings and targets', () => {
  test('mailto: targets need a sender and an endpoint, named with where to set them', () => {
    assert.throws(() => checkNotifyTargets(['mailto:ops@example.com'], {}), (e: Error) => e instanceof UsageError && /PIXBATCH_EMAIL_ENDPOINT/.test(e.message));
    assert.throws(
      () => checkNotifyTargets(['mailto:ops@example.com'], { endpoint: 'https://x.communication.azure.com' }),
      (e: Error) => e instanceof UsageError && /notify\.emailSender .*PIXBATCH_EMAIL_SENDER/.test(e.message),
    );
    assert.deepEqual(checkNotifyTargets('https://hooks.example.com/x', {}), ['https://hooks.example.com/x']);
    assert.throws(() => checkNotifyTargets(['mailto:not-an-address'], {}), /Expected mailto:NAME@DOMAIN for notify/);
    assert.throws(() => checkNotifyTargets(['ftp://x/y']), UsageError);
  });

  test('the endpoint comes from the connection string when no other is set, and the environment fills the rest', () => {
    const env = { COMMUNICATION_SERVICES_CONNECTION_STRING: 'endpoint=https://acs.communication.azure.com/;accesskey=a2V5', PIXBATCH_EMAIL_SENDER: SENDER };
    const r = resolveEmailSettings({}, env);
    assert.equal(r.endpoint, 'https://acs.communication.azure.com/');
    assert.equal(r.sender, SENDER);
    assert.equal(r.connectionString, env.COMMUNICATION_SERVICES_CONNECTION_STRING);
    const mi = resolveEmailSettings({}, { PIXBATCH_EMAIL_ENDPOINT: 'https://acs.communication.azure.com', PIXBATCH_EMAIL_SENDER: SENDER });
    assert.equal(mi.connectionString, undefined, 'without a connection string the mail is sent with DefaultAzureCredential');
    assert.equal(mailtoAddress('MAILTO:Ops@Example.com'), 'Ops@Example.com');
    assert.equal(mailtoAddress('https://example.com'), undefined);
  });

  test('a mail lists at most ten failures and says how many more the report has', () => {
    const failures = Array.from({ length: 25 }, (_, i) => ({ name: `f${i}.jpg`, code: 'CORRUPT_IMAGE' as const, message: 'bad' }));
    const mail = jobEndMail(summary({ failures, cost: undefined, jobId: undefined }), 'partial');
    assert.ok(mail.plainText.includes('f9.jpg') && !mail.plainText.includes('f10.jpg'));
    assert.match(mail.plainText, /… and 15 more in the report/);
    assert.ok(!mail.plainText.includes('Cost'), 'no cost line when the cost is not known');
    assert.equal(mail.subject, 'pixbatch finished with 3 failed: 10 converted, 1 skipped, 3 failed');
  });
});

describe('pixbatch convert --notify mailto:', () => {
  let root: string;
  let src: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pixbatch-mail-'));
    src = join(root, 'in');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.jpg'), await jpegBuffer(32, 24, 1));
    await writeFile(join(src, 'sub', 'b.jpg'), await jpegBuffer(24, 32, 2));
    await writeFile(join(src, 'broken.jpg'), Buffer.from('not a jpeg at all'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const env = (s: EmailStandin) => ({
    COMMUNICATION_SERVICES_CONNECTION_STRING: s.connectionString,
    PIXBATCH_EMAIL_SENDER: SENDER,
    // The stand-in's throw-away certificate, trusted by the child process.
    NODE_EXTRA_CA_CERTS: s.certPath,
  });

  test('a mail that cannot be delivered is a warning and leaves the exit code as the images decide', async () => {
    const { s } = await standin({ outcomes: [{ status: 'Failed', code: 'EmailDropped', message: 'Email was dropped.' }] });
    const run = await runPixbatch(['convert', src, join(root, 'out1'), '--notify', 'mailto:ops@example.com', '-q'], { env: env(s) });
    assert.equal(s.sends.length, 1, run.stderr);
    assert.match(run.stderr, /warning: job-end mail to ops@example\.com not sent after 1 attempt: .*EmailDropped/);
    assert.equal(run.code, 1, 'exit code 1 for the broken image, as without --notify');
    const clean = join(root, 'clean');
    await mkdir(clean, { recursive: true });
    await writeFile(join(clean, 'c.jpg'), await jpegBuffer(16, 16, 3));
    const ok = await runPixbatch(['convert', clean, join(root, 'out2'), '--notify', 'mailto:ops@example.com', '-q'], { env: env(s) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /not sent/);
  });

  test('the config file names the targets and the sender when --notify is not given', async () => {
    const { s } = await standin({ senders: ['reports@pixbatch.example'] });
    const config = join(root, 'pixbatch.config.json');
    await writeFile(config, JSON.stringify({ notify: { to: ['mailto:night@example.com'], emailSender: 'reports@pixbatch.example' } }));
    const report = join(root, 'r', 'report.json');
    const run = await runPixbatch(['convert', src, join(root, 'out3'), '--config', config, '--report', report, '-q'], {
      env: { ...env(s), PIXBATCH_EMAIL_SENDER: '' },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /warning/);
    assert.equal(s.sends.length, 1);
    const { body } = s.sends[0]!;
    assert.equal(body.senderAddress, 'reports@pixbatch.example');
    assert.deepEqual(body.recipients.to, [{ address: 'night@example.com' }]);
    assert.match(body.content.subject, /^pixbatch finished with 1 failed: 2 converted, 0 skipped, 1 failed$/);
    assert.ok(body.content.plainText.includes(`report: ${report}`));
    assert.ok(body.content.plainText.includes('broken.jpg'));
  });

  test('a mailto: target without a sender is a usage error before anything is converted', async () => {
    const out = join(root, 'out4');
    const run = await runPixbatch(['convert', src, out, '--notify', 'mailto:ops@example.com'], {
      env: { COMMUNICATION_SERVICES_CONNECTION_STRING: 'endpoint=https://127.0.0.1:9/;accesskey=a2V5', PIXBATCH_EMAIL_SENDER: '' },
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Expected a sender address for mailto: notifications/);
    await assert.rejects(readdir(out), 'nothing was written');
  });
});
