// 1,050 one-image tasks: the add-task-collection limit of 100 tasks per call, and idempotent re-runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchExitCode, convertOnBatch } from '../src/batch/engine.js';
import { testBundle, uploadImages, useBatchStandIn } from './batch-e2e-setup.js';

const e2e = useBatchStandIn('many', 3);

test('1,050 tasks are submitted in 11 calls, and re-running the same command after completion converts nothing', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/many-in`, 1050);
  const options = {
    source: `${e2e.azurite.blobEndpoint}/many-in`,
    destination: `${e2e.azurite.blobEndpoint}/many-out`,
    pool: e2e.batch.poolId,
    client: e2e.client,
    bundle: await testBundle(),
    shardSize: 1,
    concurrency: 1,
    pollMs: 1000,
  };
  const first = await convertOnBatch(options);
  assert.equal(first.tasks, 1050);
  const collectionCalls = e2e.batch.calls.filter((c) => c.operation === 'addtaskcollection' && c.status < 300);
  assert.equal(collectionCalls.length, 11);
  assert.equal(first.taskCalls, 11);
  assert.deepEqual(first.summary.counts, { total: 1050, converted: 1050, skipped: 0, failed: 0 });
  assert.equal(batchExitCode(first), 0);

  const jobsBefore = e2e.batch.calls.filter((c) => c.operation === 'addjob').length;
  const again = await convertOnBatch(options);
  assert.deepEqual(again.summary.counts, { total: 1050, converted: 0, skipped: 1050, failed: 0 });
  assert.equal(again.tasks, 0);
  assert.equal(e2e.batch.calls.filter((c) => c.operation === 'addjob').length, jobsBefore, 'nothing to do: no Batch job is created');
  assert.equal(batchExitCode(again), 0);
});
