// 1,050 one-image tasks: the add-task-collection limit of 100 tasks per call, and idempotent re-runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchClient, BatchSharedKeyCredential } from '../src/batch/client.js';
import { batchExitCode, convertOnBatch } from '../src/batch/engine.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import { storage, testBundle, uploadImages } from './batch-e2e-setup.js';

let az: Awaited<ReturnType<typeof storage>>;
let batch: BatchStandIn;
let dir: string;

before(async () => {
  az = await storage();
  dir = await mkdtemp(join(tmpdir(), 'pixbatch-many-'));
  batch = await startBatchStandIn({
    nodes: 3,
    storageConnectionString: az.connectionString,
    taskEnvironment: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
    rootDir: join(dir, 'batch'),
    pool: {
      vmSize: 'standard_d2s_v3',
      identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/n', clientId: 'c' }] },
    },
  });
});

after(async () => {
  await batch?.stop();
  az?.restore();
  await az?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('1,050 tasks are submitted in 11 calls, and re-running the same command after completion converts nothing', async () => {
  await uploadImages(`${az.blobEndpoint}/many-in`, 1050);
  const client = new BatchClient(batch.url, new BatchSharedKeyCredential(batch.accountName, batch.accountKey));
  const options = {
    source: `${az.blobEndpoint}/many-in`,
    destination: `${az.blobEndpoint}/many-out`,
    pool: batch.poolId,
    client,
    bundle: await testBundle(),
    shardSize: 1,
    concurrency: 1,
    pollMs: 1000,
  };
  const first = await convertOnBatch(options);
  assert.equal(first.tasks, 1050);
  const collectionCalls = batch.calls.filter((c) => c.operation === 'addtaskcollection' && c.status < 300);
  assert.equal(collectionCalls.length, 11);
  assert.equal(first.taskCalls, 11);
  assert.deepEqual(first.summary.counts, { total: 1050, converted: 1050, skipped: 0, failed: 0 });
  assert.equal(batchExitCode(first), 0);

  const jobsBefore = batch.calls.filter((c) => c.operation === 'addjob').length;
  const again = await convertOnBatch(options);
  assert.deepEqual(again.summary.counts, { total: 1050, converted: 0, skipped: 1050, failed: 0 });
  assert.equal(again.tasks, 0);
  assert.equal(batch.calls.filter((c) => c.operation === 'addjob').length, jobsBefore, 'nothing to do: no Batch job is created');
  assert.equal(batchExitCode(again), 0);
});
