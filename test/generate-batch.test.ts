// `generate --pool` end to end on the loopback Batch stand-in and Azurite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { generate } from '../src/index.js';
import { UsageError } from '../src/errors.js';
import { generateOnBatch } from '../src/generate/on-batch.js';
import { testBundle, TEST_CACHE_DIR, useBatchStandIn } from './batch-e2e-setup.js';
import { jsonFrom, runPixbatch } from './harness/cli.js';

const e2e = useBatchStandIn('generate-batch');

test('Batch tasks, each a range of indices, write the same bytes as one local run', async () => {
  const corpus = { count: 23, corrupt: 2, size: '48x32', seed: 4 } as const;
  const run = await generateOnBatch({ ...corpus, destination: `${e2e.azurite.blobEndpoint}/made/on-pool`, pool: e2e.batch.poolId, client: e2e.client, bundle: await testBundle(), shardSize: 7, pollMs: 200 });
  assert.deepEqual([run.finished, run.tasks, run.files, run.failedTasks], [true, 4, 25, []]);

  const local = await generate({ ...corpus, destination: join(e2e.dir, 'local') });
  const container = BlobServiceClient.fromConnectionString(e2e.azurite.connectionString).getContainerClient('made');
  const names: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix: 'on-pool/' })) names.push(b.name.slice('on-pool/'.length));
  assert.deepEqual(names.sort(), [...local.files, ...local.corrupt].sort());
  for (const name of names) {
    const remote = await container.getBlobClient(`on-pool/${name}`).downloadToBuffer();
    assert.ok(remote.equals(await readFile(join(e2e.dir, 'local', name))), `${name} differs`);
  }
});

test('--pool refuses a folder destination before anything is submitted', async () => {
  await assert.rejects(
    generateOnBatch({ destination: join(e2e.dir, 'nope'), count: 3, pool: e2e.batch.poolId, client: e2e.client }),
    (err: unknown) => err instanceof UsageError && /Expected a Blob Storage location for the destination with --pool/.test(err.message),
  );
});

test('pixbatch generate --pool exits 3 naming a task that failed after its retries', async () => {
  e2e.batch.failNextTask({ taskId: 'shard-00001', exitCode: 3, stderr: 'pixbatch: storage refused the credential\n', times: 4 });
  const r = await runPixbatch(
    ['generate', `${e2e.azurite.blobEndpoint}/made/cli`, '--count', '6', '--size', '32x32', '--pool', e2e.batch.poolId, '--shard-size', '3', '--poll-interval', '0.2', '--json'],
    {
      env: {
        ...e2e.cliEnv,
        PIXBATCH_CACHE_DIR: TEST_CACHE_DIR,
      },
    },
  );
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /1 task\(s\) failed: shard-00001/);
  const result = jsonFrom(r, { whole: true }) as { tasks: number; files: number; failedTasks: string[] };
  assert.deepEqual([result.tasks, result.files, result.failedTasks], [2, 6, ['shard-00001']]);
});
