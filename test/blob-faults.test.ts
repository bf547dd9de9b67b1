import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { convert } from '../src/index.js';
import { openBlobStore, isTransient, type BlobStore, type StorageError } from '../src/store/blob.js';
import { createServer } from 'node:net';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { jpegBuffer } from './harness/images.js';
import type { ImageRecord } from '../src/interfaces.js';

// Transient faults on the wire between pixbatch and Azurite: resets before and after storage acted,
// 500/503 answers, delays and bodies cut off half-way, all from a seed.

const COUNT = 1000;
let az: Azurite;
let service: BlobServiceClient;

async function md5s(container: ContainerClient): Promise<Map<string, { etag: string; md5: string }>> {
  const out = new Map<string, { etag: string; md5: string }>();
  for await (const b of container.listBlobsFlat()) out.set(b.name, { etag: b.properties.etag!, md5: Buffer.from(b.properties.contentMD5 ?? []).toString('hex') });
  return out;
}

function storeThrough(proxy: FaultProxy, container: string, maxTries = 6): Promise<BlobStore> {
  // Short per-try deadline and backoff so the faults cost seconds, not minutes.
  return openBlobStore(`${proxy.url}/${az.accountName}/${container}`, {
    env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
    maxTries,
    retryDelayMs: 20,
    maxRetryDelayMs: 200,
    tryTimeoutMs: 5000,
  });
}

before(async () => {
  az = await startAzurite({ memoryLimitMb: 256 });
  service = BlobServiceClient.fromConnectionString(az.connectionString);
});

after(async () => {
  await az?.stop();
});

describe('Blob Storage through a faulty network', () => {
  test('reads and writes come through resets, lost answers, truncated bodies and 503s intact', async () => {
    const proxy = await startFaultProxy({
      target: `http://127.0.0.1:${az.port}`,
      seed: 11,
      faults: { reset: 0.04, resetAfter: 0.05, status503: 0.04, status500: 0.02, truncate: 0.06, delay: 0.04, delayMs: [5, 50] },
    });
    try {
      const store = await storeThrough(proxy, 'flaky', 10);
      await store.prepare('destination');
      const blobs = await Promise.all(Array.from({ length: 40 }, (_, i) => jpegBuffer(32, 24, i)));
      await Promise.all(blobs.map((b, i) => store.write(`b${i}.jpg`, b, { ifNotExists: true, contentType: 'image/jpeg' })));
      const back = await Promise.all(blobs.map((_, i) => store.read(`b${i}.jpg`)));
      back.forEach((b, i) => assert.ok(b.equals(blobs[i]), `b${i}.jpg intact`));
      let listed = 0;
      for await (const _ of store.list()) listed++;
      assert.equal(listed, 40);
      for (const kind of ['reset', 'resetAfter', 'status503', 'truncate'] as const) assert.ok(proxy.counts[kind] > 0, `${kind} happened`);
    } finally {
      await proxy.stop();
    }
  });

  test('a try that never gets an answer is abandoned at its deadline, retried, then reported as a transient timeout', async () => {
    let requests = 0;
    // Accepts connections and reads requests, never answers.
    const silent = createServer((socket) => socket.on('data', (d) => (requests += (d.toString().match(/HTTP\/1\.1\r\n/g) ?? []).length)));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const store = await openBlobStore(`http://127.0.0.1:${port}/${az.accountName}/quiet`, {
        env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
        maxTries: 3,
        retryDelayMs: 10,
        tryTimeoutMs: 300,
      });
      await assert.rejects(store.stat('x.jpg'), (e: StorageError) => {
        assert.equal(e.code, 'ETIMEDOUT');
        assert.equal(isTransient(e), true);
        return true;
      });
      assert.equal(requests, 3);
    } finally {
      silent.close();
    }
  });

  test('a download whose body stalls half-way is abandoned and fetched again', { timeout: 20_000 }, async () => {
    const proxy = await startFaultProxy({ target: `http://127.0.0.1:${az.port}`, seed: 5, faults: { stall: 0.5 }, applies: (req) => req.method === 'GET' });
    try {
      const data = await jpegBuffer(64, 48, 99);
      await service.getContainerClient('stall').createIfNotExists();
      await service.getContainerClient('stall').getBlockBlobClient('s.jpg').upload(data, data.length);
      const store = await openBlobStore(`${proxy.url}/${az.accountName}/stall`, {
        env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
        maxTries: 10,
        retryDelayMs: 10,
        tryTimeoutMs: 300,
      });
      for (let i = 0; i < 4; i++) assert.ok((await store.read('s.jpg')).equals(data));
      assert.ok(proxy.counts.stall > 0, 'a body stalled');
    } finally {
      await proxy.stop();
    }
  });

  test('an image whose retries run out is reported failed by name and the job goes on', async () => {
    const input = service.getContainerClient('doom-in');
    await input.create();
    for (const name of ['ok1.jpg', 'doomed.jpg', 'ok2.jpg']) {
      const b = await jpegBuffer(16, 16, name.length);
      await input.getBlockBlobClient(name).upload(b, b.length);
    }
    // Every request for the input doomed.jpg is answered 503; everything else passes.
    const proxy = await startFaultProxy({ target: `http://127.0.0.1:${az.port}`, seed: 3, faults: { status503: 1 }, applies: (req) => (req.url ?? '').includes('/doom-in/doomed') });
    try {
      const summary = await convert({ source: await storeThrough(proxy, 'doom-in'), destination: await storeThrough(proxy, 'doom-out'), concurrency: 2 });
      assert.equal(summary.counts.converted, 2);
      assert.equal(summary.counts.failed, 1);
      assert.equal(summary.failures[0].name, 'doomed.jpg');
      assert.equal(summary.failures[0].code, 'READ_FAILED');
      assert.match(summary.failures[0].message, /503/);
    } finally {
      await proxy.stop();
    }
  });

  test(`a ${COUNT}-image blob → blob run through the faults converts each image exactly once or reports it, with no partial outputs and inputs untouched`, async (t) => {
    const input = service.getContainerClient('many-in');
    await input.create();
    const images = new Map<string, Buffer>();
    for (let i = 0; i < COUNT; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, COUNT - i) }, async (_, k) => {
          const name = `set${(i + k) % 10}/img${String(i + k).padStart(4, '0')}.jpg`;
          const data = await jpegBuffer(64, 48, i + k);
          images.set(name, data);
          await input.getBlockBlobClient(name).upload(data, data.length);
        }),
      );
    }
    const before = await md5s(input);
    const proxy = await startFaultProxy({
      target: `http://127.0.0.1:${az.port}`,
      seed: 20261124,
      faults: { reset: 0.02, resetAfter: 0.02, status503: 0.03, status500: 0.01, truncate: 0.02, delay: 0.03, delayMs: [10, 120] },
    });
    const records: ImageRecord[] = [];
    try {
      const summary = await convert({
        source: await storeThrough(proxy, 'many-in'),
        destination: await storeThrough(proxy, 'many-out'),
        overwrite: 'never',
        concurrency: 2,
        ioConcurrency: 16,
        onRecord: (r) => records.push(r),
      });
      // Exactly one record per image, and the counts add up.
      assert.equal(records.length, COUNT);
      assert.equal(new Set(records.map((r) => r.name)).size, COUNT);
      assert.equal(summary.counts.total, COUNT);
      assert.equal(summary.counts.converted + summary.counts.failed, COUNT, JSON.stringify(summary.counts));
      for (const f of summary.failures) assert.ok(images.has(f.name) && f.code, `failure names its image: ${JSON.stringify(f)}`);
      for (const kind of ['reset', 'resetAfter', 'status503', 'truncate', 'delay'] as const) assert.ok(proxy.counts[kind] > 0, `${kind} happened`);
      t.diagnostic(`counts ${JSON.stringify(summary.counts)}; faults ${JSON.stringify(proxy.counts)}`);
    } finally {
      await proxy.stop();
    }
    // Outputs: one per converted image, each whole (its bytes match the MD5 recorded at commit, and it decodes).
    const output = service.getContainerClient('many-out');
    const outputs = await md5s(output);
    const converted = records.filter((r) => r.status === 'converted');
    assert.equal(outputs.size, converted.length);
    for (const r of converted) assert.ok(outputs.has(r.output!), `${r.output} exists`);
    for (const r of records.filter((r) => r.status === 'failed')) assert.ok(!outputs.has(r.output!), `no output for failed ${r.name}`);
    const sample = converted.filter((_, i) => i % 25 === 0);
    for (const r of sample) {
      const data = await output.getBlobClient(r.output!).downloadToBuffer();
      assert.equal(createHash('md5').update(data).digest('hex'), outputs.get(r.output!)!.md5);
      const meta = await sharp(data).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 48]);
    }
    // Inputs: same names, same versions, same bytes.
    assert.deepEqual(await md5s(input), before);
  });
});
