import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import functions from '@azure/functions';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { onBlobCreated, onWebhook, resetFunctions, readSettings, BlobEventConverter } from '../src/functions/app.js';
import { META_SOURCE_ETAG } from '../src/convert/spec.js';
import { UsageError } from '../src/errors.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { jpegBuffer } from './harness/images.js';
import { blobCreatedEvent, subscriptionValidationEvent } from './harness/event-grid.js';

// @azure/functions is CommonJS without named exports that Node can detect, hence the default import.
const { HttpRequest, InvocationContext } = functions;
type HttpRequest = InstanceType<typeof HttpRequest>;
type InvocationContext = InstanceType<typeof InvocationContext>;

// The handlers are called as the Functions host calls them, with the library's own InvocationContext and
// HttpRequest, against Azurite: the conversion, the stores and the up-to-date check are the real ones.

let az: Azurite;
let service: BlobServiceClient;
let images: ContainerClient;
let converted: ContainerClient;
const SETTINGS = ['PIXBATCH_STORAGE', 'PIXBATCH_SOURCE', 'PIXBATCH_DESTINATION', 'PIXBATCH_CONCURRENCY', 'PIXBATCH_NOTIFY', 'PIXBATCH_TO'];
const saved = new Map(SETTINGS.map((k) => [k, process.env[k]]));

/** An InvocationContext whose log lines are kept, as the host would send them to Application Insights. */
function context(lines: string[]): InvocationContext {
  return new InvocationContext({ functionName: 'test', logHandler: (level, ...args) => lines.push(`${level} ${args.map(String).join(' ')}`) });
}

function event(blob: string, eTag?: string) {
  return blobCreatedEvent({ account: az.accountName, container: 'images', blob, blobEndpoint: az.blobEndpoint, eTag });
}

function post(body: unknown, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'POST', url: 'http://localhost/api/pixbatch/events', body: { string: JSON.stringify(body) }, headers: { 'content-type': 'application/json', ...headers } });
}

async function listing(container: ContainerClient, prefix = ''): Promise<Map<string, { etag: string; source?: string }>> {
  const out = new Map<string, { etag: string; source?: string }>();
  for await (const b of container.listBlobsFlat({ prefix, includeMetadata: true })) out.set(b.name, { etag: b.properties.etag!, source: b.metadata?.[META_SOURCE_ETAG] });
  return out;
}

async function put(name: string, data: Buffer): Promise<string> {
  const r = await images.getBlockBlobClient(name).upload(data, data.length);
  return r.etag!;
}

/** How many times each name was converted, from the log lines the handlers wrote. */
function conversions(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = /^information converted (\S+) ->/.exec(l);
    if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
  }
  return out;
}

before(async () => {
  az = await startAzurite();
  service = BlobServiceClient.fromConnectionString(az.connectionString);
  images = service.getContainerClient('images');
  converted = service.getContainerClient('converted');
  await images.create();
});

after(async () => {
  for (const [k, v] of saved) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  resetFunctions();
  await az?.stop();
});

beforeEach(() => {
  process.env.PIXBATCH_STORAGE = az.connectionString;
  process.env.PIXBATCH_SOURCE = 'az://images/incoming';
  process.env.PIXBATCH_DESTINATION = 'az://converted/out';
  process.env.PIXBATCH_CONCURRENCY = '2';
  delete process.env.PIXBATCH_NOTIFY;
  resetFunctions();
});

describe('Functions app on Azurite', () => {
  test('converts each of 50 uploads exactly once through duplicate, concurrent and out-of-order events, and reports the corrupt one', async () => {
    const etags = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      const name = `incoming/img-${String(i).padStart(2, '0')}.jpg`;
      etags.set(name, await put(name, await jpegBuffer(48, 32, i)));
    }
    const good = await jpegBuffer(48, 32, 99);
    etags.set('incoming/broken.jpg', await put('incoming/broken.jpg', good.subarray(0, good.length >> 1)));
    await put('other/outside.jpg', good);
    const sourceBefore = await listing(images);

    // Every event delivered twice, a third of them three times, newest first, eight deliveries at a time.
    const deliveries = [...etags].flatMap(([name, etag], i) => Array.from({ length: i % 3 === 0 ? 3 : 2 }, () => event(name, etag))).reverse();
    const lines: string[] = [];
    for (let i = 0; i < deliveries.length; i += 8) {
      await Promise.all(deliveries.slice(i, i + 8).map((e) => onBlobCreated(e as never, context(lines))));
    }

    const outputs = await listing(converted);
    assert.equal(outputs.size, 50, [...outputs.keys()].join(', '));
    for (const [name, etag] of etags) {
      if (name.endsWith('broken.jpg')) continue;
      const out = outputs.get(name.replace('incoming/', 'out/').replace('.jpg', '.png'));
      assert.equal(out?.source, etag, `${name}: output records the version it came from`);
    }
    const counts = conversions(lines);
    assert.equal(counts.size, 50);
    assert.deepEqual([...new Set(counts.values())], [1], 'no image converted twice');
    assert.ok(lines.some((l) => /^error failed broken\.jpg: CORRUPT_IMAGE/.test(l)), 'the corrupt image is reported with its code');
    assert.ok(!outputs.has('out/broken.png') && !outputs.has('out/outside.png'));
    assert.deepEqual(await listing(images), sourceBefore, 'sources untouched');

    // A new version is converted again; its old event, arriving late, converts nothing.
    const newEtag = await put('incoming/img-07.jpg', await jpegBuffer(48, 32, 1007));
    const late: string[] = [];
    await onBlobCreated(event('incoming/img-07.jpg', newEtag) as never, context(late));
    await onBlobCreated(event('incoming/img-07.jpg', etags.get('incoming/img-07.jpg')) as never, context(late));
    assert.deepEqual([...conversions(late)], [['img-07.jpg', 1]]);
    assert.equal((await listing(converted, 'out/img-07')).get('out/img-07.png')?.source, newEtag);
  });

  test('answers the Event Grid subscription-validation handshake with its code, and the CloudEvents OPTIONS request', async () => {
    const lines: string[] = [];
    const res = await onWebhook(post([subscriptionValidationEvent('512d38b6-c7b8-40c8-89fe-f46f9e9622b6')], { 'aeg-event-type': 'SubscriptionValidation' }), context(lines));
    assert.equal(res.status, 200);
    assert.deepEqual(res.jsonBody, { validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
    const options = await onWebhook(new HttpRequest({ method: 'OPTIONS', url: 'http://localhost/api/pixbatch/events', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } }), context(lines));
    assert.equal(options.status, 200);
    assert.equal((options.headers as Record<string, string>)['WebHook-Allowed-Origin'], 'eventgrid.azure.net');
    const bad = await onWebhook(new HttpRequest({ method: 'POST', url: 'http://localhost/api/pixbatch/events', body: { string: 'not json' } }), context(lines));
    assert.equal(bad.status, 400);
  });

  test('converts a batch of 100 events in one request and posts one summary to PIXBATCH_NOTIFY', async () => {
    const bodies: unknown[] = [];
    const server: Server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        bodies.push(JSON.parse(text));
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    process.env.PIXBATCH_NOTIFY = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    process.env.PIXBATCH_TO = 'webp';
    try {
      const data = await jpegBuffer(40, 30, 5);
      const names = Array.from({ length: 100 }, (_, i) => `incoming/batch/b-${String(i).padStart(3, '0')}.jpg`);
      await Promise.all(names.map((n) => put(n, data)));
      const res = await onWebhook(post(names.map((n) => event(n))), context([]));
      assert.equal(res.status, 200);
      assert.deepEqual(res.jsonBody, { total: 100, converted: 100, skipped: 0, failed: 0, ignored: 0 });
      assert.equal((await listing(converted, 'out/batch/')).size, 100);
      assert.equal(bodies.length, 1);
      assert.equal((bodies[0] as { counts: { converted: number } }).counts.converted, 100);
      // Event Grid delivering the same batch again converts nothing and notifies nobody.
      const again = await onWebhook(post(names.map((n) => event(n))), context([]));
      assert.deepEqual(again.jsonBody, { total: 100, converted: 0, skipped: 100, failed: 0, ignored: 0 });
      assert.equal(bodies.length, 1);
    } finally {
      server.close();
    }
  });

  test('ignores events for blobs outside the source prefix or not matching the patterns, logging each once', async () => {
    await put('elsewhere/skip-me.jpg', await jpegBuffer(16, 16, 1));
    await put('incoming/notes.txt', Buffer.from('not an image'));
    const lines: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await onWebhook(post([event('elsewhere/skip-me.jpg'), event('incoming/notes.txt')]), context(lines));
      assert.deepEqual(res.jsonBody, { total: 0, converted: 0, skipped: 0, failed: 0, ignored: 2 });
    }
    assert.equal(lines.filter((l) => l.includes('elsewhere/skip-me.jpg is outside images/incoming/')).length, 1);
    assert.equal(lines.filter((l) => l.includes('notes.txt does not match')).length, 1);
    assert.equal((await listing(converted, 'out/notes')).size, 0);
  });

  test('fails the invocation when storage refuses the credential, without the key in any log line', async () => {
    const wrongKey = Buffer.from('not the account key, not at all').toString('base64');
    process.env.PIXBATCH_STORAGE = az.connectionString.replace(az.accountKey, wrongKey);
    resetFunctions();
    const lines: string[] = [];
    await assert.rejects(onBlobCreated(event('incoming/img-01.jpg') as never, context(lines)), /403|authoriz|authenticat/i);
    const res = await onWebhook(post([event('incoming/img-01.jpg')]), context(lines));
    assert.equal(res.status, 503);
    assert.ok(lines.length > 0);
    assert.ok(!lines.some((l) => l.includes(wrongKey)) && !JSON.stringify(res.jsonBody).includes(wrongKey));
  });

  test('refuses an image over PIXBATCH_MAX_PIXELS as a failed record without failing the invocation', async () => {
    await put('incoming/large/big.jpg', await jpegBuffer(64, 48, 3));
    const settings = await readSettings({ ...process.env, PIXBATCH_MAX_PIXELS: '1000' });
    const converter = await BlobEventConverter.open(settings);
    const outcome = await converter.convert([event('incoming/large/big.jpg')], context([]));
    assert.equal(outcome.records[0]?.code, 'TOO_LARGE');
    assert.equal((await listing(converted, 'out/large/')).size, 0);
  });
});

describe('Functions app settings', () => {
  test('an identity connection signs in with the named managed identity and resolves az:// against its endpoint', async () => {
    const asked: unknown[] = [];
    const settings = await readSettings(
      {
        PIXBATCH_STORAGE__blobServiceUri: 'https://acct.blob.core.windows.net/',
        PIXBATCH_STORAGE__credential: 'managedidentity',
        PIXBATCH_STORAGE__clientId: '11111111-2222-3333-4444-555555555555',
        PIXBATCH_SOURCE: 'az://images/incoming',
        PIXBATCH_DESTINATION: 'https://acct.blob.core.windows.net/converted',
        PIXBATCH_INCLUDE: '**/*.jpg, **/*.png',
        PIXBATCH_TO: 'avif',
      },
      async (o) => {
        asked.push(o);
        return { getToken: async () => null };
      },
    );
    assert.deepEqual(asked, [{ managedIdentity: true, clientId: '11111111-2222-3333-4444-555555555555' }]);
    assert.equal(settings.source, 'https://acct.blob.core.windows.net/images/incoming');
    assert.deepEqual(settings.options.include, ['**/*.jpg', '**/*.png']);
    assert.equal(settings.options.spec.to, 'avif');
    assert.match(settings.connection, /managed identity 11111111/);
  });

  test('PIXBATCH_FROM selects the source formats and PIXBATCH_BACKGROUND the colour a JPEG output is flattened onto', async () => {
    const base = { PIXBATCH_STORAGE: 'UseDevelopmentStorage=true', PIXBATCH_SOURCE: 'az://images', PIXBATCH_DESTINATION: 'az://out' };
    const settings = await readSettings({ ...base, PIXBATCH_FROM: 'png, webp', PIXBATCH_TO: 'jpeg', PIXBATCH_BACKGROUND: '#102030' });
    assert.ok(settings.options.include.some((g) => /png/.test(g) && /webp/.test(g)), JSON.stringify(settings.options.include));
    assert.ok(!settings.options.include.some((g) => /jpe?g/.test(g)), 'jpeg is no longer selected');
    assert.equal(settings.options.spec.background, '#102030');
    await assert.rejects(readSettings({ ...base, PIXBATCH_FROM: 'bmp' }), /from/);
  });

  test('PIXBATCH_NOTIFY takes webhooks and mailto: addresses, and a mail target without a sender is refused by name', async () => {
    const base = { PIXBATCH_STORAGE: 'UseDevelopmentStorage=true', PIXBATCH_SOURCE: 'az://images', PIXBATCH_DESTINATION: 'az://out' };
    const saved = { endpoint: process.env.PIXBATCH_EMAIL_ENDPOINT, sender: process.env.PIXBATCH_EMAIL_SENDER };
    try {
      process.env.PIXBATCH_EMAIL_ENDPOINT = 'https://mail.example.communication.azure.com';
      delete process.env.PIXBATCH_EMAIL_SENDER;
      const hooks = await readSettings({ ...base, PIXBATCH_NOTIFY: 'https://hooks.example.com/a, https://hooks.example.com/b' });
      assert.deepEqual(hooks.notify, ['https://hooks.example.com/a', 'https://hooks.example.com/b']);
      await assert.rejects(readSettings({ ...base, PIXBATCH_NOTIFY: 'mailto:ops@example.com' }), /sender|SENDER/);
      process.env.PIXBATCH_EMAIL_SENDER = 'DoNotReply@example.com';
      const mail = await readSettings({ ...base, PIXBATCH_NOTIFY: 'https://hooks.example.com/a,mailto:ops@example.com' });
      assert.deepEqual(mail.notify, ['https://hooks.example.com/a', 'mailto:ops@example.com']);
      await assert.rejects(readSettings({ ...base, PIXBATCH_NOTIFY: 'ftp://nope' }), /notify|URL/i);
    } finally {
      for (const [k, v] of [['PIXBATCH_EMAIL_ENDPOINT', saved.endpoint], ['PIXBATCH_EMAIL_SENDER', saved.sender]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test('a bad or missing setting is one line naming it', async () => {
    await assert.rejects(readSettings({ PIXBATCH_STORAGE: 'UseDevelopmentStorage=true', PIXBATCH_DESTINATION: 'az://c' }), (err: Error) => err instanceof UsageError && /PIXBATCH_SOURCE/.test(err.message));
    await assert.rejects(
      readSettings({ PIXBATCH_STORAGE: 'UseDevelopmentStorage=true', PIXBATCH_SOURCE: 'az://images', PIXBATCH_DESTINATION: 'az://out', PIXBATCH_QUALITY: '120', PIXBATCH_TO: 'webp' }),
      /Expected integer between 1 and 100 for quality but received "120" \(app settings PIXBATCH_\*\)/,
    );
    await assert.rejects(readSettings({ PIXBATCH_STORAGE: 'UseDevelopmentStorage=true', PIXBATCH_SOURCE: './local', PIXBATCH_DESTINATION: 'az://out' }), /Blob Storage location .* for PIXBATCH_SOURCE/);
  });
});
