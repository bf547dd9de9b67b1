import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { BlobServiceClient } from '@azure/storage-blob';
import { convert } from '../src/index.js';
import { jobSignal } from '../src/engine/job-signal.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { runPixbatch } from './harness/cli.js';

// Each storage request listens for abort while it runs; a job with thousands of images must neither
// pile those listeners onto the caller's signal nor make Node print MaxListenersExceededWarning.

const COUNT = 2000;
const SAMPLED = 300;
let az: Azurite;
let root: string;
let savedConnectionString: string | undefined;

before(async () => {
  az = await startAzurite();
  savedConnectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  root = await mkdtemp(join(tmpdir(), 'pixbatch-listeners-'));
  const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('images');
  await container.create();
  const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#3a6' } }).jpeg().toBuffer();
  const limit = pLimit(32);
  await Promise.all(Array.from({ length: COUNT }, (_, i) => limit(() => container.getBlockBlobClient(`p/${i}.jpg`).upload(jpeg, jpeg.length))));
  // A smaller set for the in-process run, which samples the listeners.
  await Promise.all(Array.from({ length: SAMPLED }, (_, i) => limit(() => container.getBlockBlobClient(`q/${i}.jpg`).upload(jpeg, jpeg.length))));
});

after(async () => {
  if (savedConnectionString === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  else process.env.AZURE_STORAGE_CONNECTION_STRING = savedConnectionString;
  await az?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

test('a 2,000-image Blob Storage to folder run prints no Node warning', async () => {
  const out = join(root, 'cli-out');
  const run = await runPixbatch(['convert', `${az.blobEndpoint}/images/p`, out], { env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString } });
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /Warning/);
  assert.equal((await readdir(out)).filter((f) => f.endsWith('.png')).length, COUNT);
});

test("the job's abort listeners on the caller's signal stay bounded and are all removed at the end", async () => {
  const controller = new AbortController();
  let most = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    most = Math.max(most, getEventListeners(controller.signal, 'abort').length);
    samples++;
  }, 2);
  try {
    const summary = await convert({ source: `${az.blobEndpoint}/images/q`, destination: join(root, 'api-out'), signal: controller.signal, ioConcurrency: 16 });
    assert.equal(summary.counts.converted, SAMPLED);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(samples > 10, `sampled ${samples} times`);
  assert.ok(most >= 1 && most <= 2, `at most ${most} listeners at once`);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});

test("a job's signal aborts with the caller's reason, and releasing it takes its one listener off the caller's signal", () => {
  const caller = new AbortController();
  const job = jobSignal(caller.signal, 20);
  assert.equal(getEventListeners(caller.signal, 'abort').length, 1);
  const reason = new Error('stop');
  caller.abort(reason);
  assert.equal(job.signal.aborted, true);
  assert.equal(job.signal.reason, reason);
  const other = new AbortController();
  jobSignal(other.signal, 20).release();
  assert.equal(getEventListeners(other.signal, 'abort').length, 0);
});
