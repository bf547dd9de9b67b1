// `generate --pool` end to end on the loopback Batch stand-in and Azurite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { generate } from '../src/index.js';
import { UsageError } from '../src/errors.js';
import { BatchClient, BatchSharedKeyCredential } from '../src/batch/client.js';
import { generateOnBatch } from '../src/generate/on-batch.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import { storage, testBundle } from './batch-e2e-setup.js';

const IDENTITY = {
  resourceId: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch-nodes',
  clientId: '11111111-2222-3333-4444-555555555555',
};

let az: Awaited<ReturnType<typeof storage>>;
let batch: BatchStandIn;
let client: BatchClient;
let dir: string;

before(async () => {
  az = await storage();
  dir = await mkdtemp(join(tmpdir(), 'pixbatch-generate-batch-'));
  batch = await startBatchStandIn({
    nodes: 2,
    storageConnectionString: az.connectionString,
    taskEnvironment: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
    rootDir: join(dir, 'batch'),
    pool: { vmSize: 'standard_d2s_v3', identity: { type: 'UserAssigned', userAssignedIdentities: [IDENTITY] } },
  });
  client = new BatchClient(batch.url, new BatchSharedKeyCredential(batch.accountName, batch.accountKey), { retryOptions: { retryDelayInMs: 50, maxRetryDelayInMs: 500 } });
});

after(async () => {
  await batch?.stop();
  az?.restore();
  await az?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('Batch tasks, each a range of indices, write the same bytes as one local run', async () => {
  const corpus = { count: 23, corrupt: 2, size: '48x32', seed: 4 } as const;
  const run = await generateOnBatch({ ...corpus, destination: `${az.blobEndpoint}/made/on-pool`, pool: batch.poolId, client, bundle: await testBundle(), shardSize: 7, pollMs: 200 });
  assert.deepEqual([run.finished, run.tasks, run.files, run.failedTasks], [true, 4, 25, []]);

  const local = await generate({ ...corpus, destination: join(dir, 'local') });
  const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('made');
  const names: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix: 'on-pool/' })) names.push(b.name.slice('on-pool/'.length));
  assert.deepEqual(names.sort(), [...local.files, ...local.corrupt].sort());
  for (const name of names) {
    const remote = await container.getBlobClient(`on-pool/${name}`).downloadToBuffer();
    assert.ok(remote.equals(await readFile(join(dir, 'local', name))), `${name} differs`);
  }
});

test('--pool refuses a folder destination before anything is submitted', async () => {
  await assert.rejects(
    generateOnBatch({ destination: join(dir, 'nope'), count: 3, pool: batch.poolId, client }),
    (err: unknown) => err instanceof UsageError && /Expected a Blob Storage location for the destination with --pool/.test(err.message),
  );
});
