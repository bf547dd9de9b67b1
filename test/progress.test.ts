import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import pLimit from 'p-limit';
import { convert, generate } from '../src/index.js';
import { progressLine } from '../src/cli/progress.js';
import { openBlobStore } from '../src/store/blob.js';
import type { ProgressEvent } from '../src/interfaces.js';
import { startAzurite, type Azurite } from './harness/azurite.js';

// The listing runs ahead of the conversions, so a run knows its total, and its ETA, long before the end.

const COUNT = 240;
let root: string;
let az: Azurite;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-progress-'));
  await generate({ destination: join(root, 'in'), count: COUNT, size: '64x64', seed: 3 });
  az = await startAzurite();
  const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('images');
  await container.create();
  const limit = pLimit(16);
  const names: string[] = [];
  for (const e of await readdir(join(root, 'in'), { recursive: true, withFileTypes: true })) if (e.isFile()) names.push(join(e.parentPath, e.name).slice(join(root, 'in').length + 1));
  await Promise.all(names.map((n) => limit(async () => container.getBlockBlobClient(n).uploadData(await readFile(join(root, 'in', n))))));
});

after(async () => {
  await az?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** The first progress line with a settled total, as a log would show it, and how many images were done then. */
function firstSettled(events: ProgressEvent[]): { line: string; done: number } | undefined {
  const e = events.find((x) => !x.listing && x.converted > 0);
  return e && { line: progressLine('converting', e), done: e.done };
}

test('a folder run reports its whole total without + and an ETA before half of the images are done', async () => {
  const events: ProgressEvent[] = [];
  const summary = await convert({ source: join(root, 'in'), destination: join(root, 'out'), concurrency: 1, onProgress: (e) => events.push(e) });
  assert.equal(summary.counts.converted, COUNT);
  const settled = firstSettled(events);
  assert.ok(settled, 'some event has a settled total');
  assert.ok(settled.done < COUNT / 2, `total known only after ${settled.done} of ${COUNT}`);
  assert.match(settled.line, new RegExp(`^converting: ${settled.done}/${COUNT} done .*ETA \\d+(s|m\\d\\ds)$`));
  // Before the count has ended, the total is a lower bound and says so.
  for (const e of events.filter((x) => x.listing)) assert.match(progressLine('converting', e), /\/\d+\+ done .*ETA \?$/);
});

test('a Blob Storage run listed page by page reports its total and an ETA before half of the images are done', async () => {
  const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  try {
    // Small pages: the count ahead takes many list requests, as a large container does.
    const source = await openBlobStore(`${az.blobEndpoint}/images`, { pageSize: 20 });
    const events: ProgressEvent[] = [];
    const summary = await convert({ source, destination: join(root, 'blob-out'), concurrency: 1, onProgress: (e) => events.push(e) });
    assert.equal(summary.counts.converted, COUNT);
    const settled = firstSettled(events);
    assert.ok(settled, 'some event has a settled total');
    assert.ok(settled.done < COUNT / 2, `total known only after ${settled.done} of ${COUNT}`);
    assert.match(settled.line, new RegExp(`^converting: ${settled.done}/${COUNT} done .*ETA \\d+(s|m\\d\\ds)$`));
  } finally {
    if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
  }
});
