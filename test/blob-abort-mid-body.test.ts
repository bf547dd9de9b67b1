import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { BlobServiceClient } from '@azure/storage-blob';
import { convert } from '../src/index.js';
import { openBlobStore, type BlobStore, type StorageError } from '../src/store/blob.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { jpegBuffer } from './harness/images.js';

// An abort must stop a download whose body is still arriving, not only one still waiting for its
// headers. The proxy sends half of a large blob and then nothing; the abort comes in that gap, long
// before the no-data deadline (the only other thing that would end the read).

const NO_DATA_DEADLINE_MS = 20_000;
const PROMPTLY_MS = 3_000;
const SMALL = ['s0.jpg', 's1.jpg', 's2.jpg'];

let az: Azurite;
let proxy: FaultProxy;
let big: Buffer;
let root: string;

before(async () => {
  az = await startAzurite({ memoryLimitMb: 128 });
  const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('images');
  await container.create();
  // Noise does not compress: a JPEG of several MB.
  big = await sharp(randomBytes(2400 * 2400 * 3), { raw: { width: 2400, height: 2400, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  assert.ok(big.length > 4 * 1024 * 1024, `big.jpg is ${big.length} bytes`);
  await container.getBlockBlobClient('big.jpg').uploadData(big);
  for (const [i, name] of SMALL.entries()) {
    const b = await jpegBuffer(32, 24, i);
    await container.getBlockBlobClient(name).upload(b, b.length);
  }
  // Every download of big.jpg stalls half-way; everything else passes.
  proxy = await startFaultProxy({
    target: `http://127.0.0.1:${az.port}`,
    seed: 1,
    faults: { stall: 1 },
    applies: (req) => req.method === 'GET' && (req.url ?? '').includes('/big.jpg'),
  });
  root = await mkdtemp(join(tmpdir(), 'pixbatch-abort-body-'));
});

after(async () => {
  await proxy?.stop();
  await az?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

function storeThroughProxy(): Promise<BlobStore> {
  return openBlobStore(`${proxy.url}/${az.accountName}/images`, {
    env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
    retryDelayMs: 10,
    tryTimeoutMs: NO_DATA_DEADLINE_MS,
  });
}

/** Resolves once the proxy has sent half of big.jpg once more since `from` bytes and the client has had time to take it in. */
async function halfOfBigSent(from: number): Promise<void> {
  while (proxy.stalledBytes < from + Math.floor(big.length / 2)) await sleep(10);
  await sleep(200);
}

/** What the promise settled with within PROMPTLY_MS after an abort: its error, 'resolved', or 'still running'. */
function settledPromptly(p: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    p.then(
      () => 'resolved',
      (err: unknown) => err,
    ),
    sleep(PROMPTLY_MS, 'still running', { ref: false }),
  ]);
}

test('a read aborted while its body is half-way rejects at once with the abort, not at the no-data deadline', { timeout: 30_000 }, async () => {
  const store = await storeThroughProxy();
  const controller = new AbortController();
  const from = proxy.stalledBytes;
  const reading = store.read('big.jpg', { abortSignal: controller.signal });
  reading.catch(() => {});
  await halfOfBigSent(from);
  controller.abort(new Error('stop'));
  const outcome = await settledPromptly(reading);
  assert.ok(outcome instanceof Error, `the read is ${String(outcome)} ${PROMPTLY_MS} ms after the abort`);
  assert.match(outcome.message, /read big\.jpg from .* failed: The operation was aborted/);
  assert.equal((outcome as StorageError).transient, false, 'an abort is not worth retrying');
});

test('a download no longer listens for abort once its body has been read', async () => {
  const store = await storeThroughProxy();
  const controller = new AbortController();
  const data = await store.read('s0.jpg', { abortSignal: controller.signal });
  assert.ok(data.length > 0);
  await nextTurn();
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});

test('a run aborted while a large blob is half downloaded stops promptly and leaves no partial or temporary file', { timeout: 30_000 }, async () => {
  const destination = join(root, 'out');
  const controller = new AbortController();
  const from = proxy.stalledBytes;
  const running = convert({ source: await storeThroughProxy(), destination, signal: controller.signal, concurrency: 1 });
  running.catch(() => {});
  await halfOfBigSent(from);
  const reason = new Error('interrupted');
  controller.abort(reason);
  const outcome = await settledPromptly(running);
  // Whichever reads the abort cut (reads run ahead of the conversions), the run rejects with the
  // caller's reason, never with the storage error of a cut read nor by finishing with big.jpg failed.
  assert.equal(outcome, reason, `within ${PROMPTLY_MS} ms of the abort the run was: ${String(outcome)}`);
  const files = (await readdir(destination, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(destination, join(e.parentPath, e.name)));
  // Writes go to a temporary name beside the output (".pixbatch-tmp-..."); pixbatch's own state lives under ".pixbatch/".
  assert.ok(!files.some((f) => f.includes('pixbatch-tmp')), `no temporary file: ${files.join(', ')}`);
  assert.ok(!files.includes('big.png'), 'no output for the aborted download');
  for (const f of files.filter((f) => !f.startsWith(`.pixbatch${sep}`))) {
    assert.ok(SMALL.map((s) => s.replace('.jpg', '.png')).includes(f), `only finished outputs are left: ${f}`);
    const meta = await sharp(join(destination, f)).metadata();
    assert.equal(meta.width, 32, `${f} is whole`);
  }
});
