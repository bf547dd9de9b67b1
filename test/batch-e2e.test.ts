// End to end on the loopback Batch stand-in and Azurite: plan, ship, submit, watch, report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../src/interfaces.js';
import { openStore } from '../src/store/index.js';
import { BatchClient, BatchSharedKeyCredential } from '../src/batch/client.js';
import { batchExitCode, convertOnBatch, type BatchConvertOptions } from '../src/batch/engine.js';
import { BUNDLE_SCRIPT } from '../src/batch/bundle.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import { storage, testBundle, uploadImages } from './batch-e2e-setup.js';

const IDENTITY = {
  resourceId: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch-nodes',
  clientId: '11111111-2222-3333-4444-555555555555',
};

let az: Awaited<ReturnType<typeof storage>>;
let batch: BatchStandIn;
let client: BatchClient;
let dir: string;
let firstJob = '';

before(async () => {
  az = await storage();
  dir = await mkdtemp(join(tmpdir(), 'pixbatch-e2e-'));
  batch = await startBatchStandIn({
    nodes: 2,
    storageConnectionString: az.connectionString,
    // How workers on the simulated nodes reach Azurite; a real node uses its managed identity.
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

async function run(container: string, extra: Partial<BatchConvertOptions> = {}) {
  return convertOnBatch({
    source: `${az.blobEndpoint}/${container}-in`,
    destination: `${az.blobEndpoint}/${container}-out`,
    pool: batch.poolId,
    client,
    bundle: await testBundle(),
    pollMs: 200,
    concurrency: 1,
    ...extra,
  });
}

function assertEachOnce(report: Report, names: string[]) {
  const seen = new Map<string, number>();
  for (const r of report.images) seen.set(r.name, (seen.get(r.name) ?? 0) + 1);
  assert.deepEqual([...seen.keys()].sort(), [...names].sort());
  assert.deepEqual([...new Set(seen.values())], [1], 'no image is counted twice');
}

const imageNames = (n: number) => Array.from({ length: n }, (_, i) => `img/${String(i).padStart(5, '0')}.jpg`);

test('500 images on 2 nodes: every image converted once, one merged report, exit 0', async () => {
  await uploadImages(`${az.blobEndpoint}/five-in`, 500);
  const result = await run('five');
  firstJob = result.jobId;
  assert.equal(result.finished, true);
  assert.deepEqual(result.summary.counts, { total: 500, converted: 500, skipped: 0, failed: 0 });
  assert.equal(batchExitCode(result), 0);
  assert.ok(result.tasks >= 2, 'the work is cut into several tasks');
  assertEachOnce(result.report!, imageNames(500));
  assert.deepEqual(new Set(result.report!.images.map((r) => r.node)).size, 2, 'both nodes worked');

  const out = await openStore(`${az.blobEndpoint}/five-out`, 'source');
  const pngs: string[] = [];
  for await (const e of out.list()) if (e.name.endsWith('.png') && !e.name.startsWith('.pixbatch/')) pngs.push(e.name);
  assert.equal(pngs.length, 500);
  const merged = JSON.parse((await out.read(`.pixbatch/jobs/${result.jobId}/report.json`)).toString()) as Report;
  assert.deepEqual(merged.counts, result.summary.counts);
  assert.equal(merged.jobId, result.jobId);
  await out.close?.();
});

test('the bundle deploy built is the one the nodes unpack and run', async () => {
  // The job above ran; its preparation task fetched the bundle with the pool's identity and unpacked it.
  const bundle = await testBundle();
  assert.ok(firstJob, 'runs after the 500-image job');
  const job = await client.getJob(firstJob);
  const rf = job.jobPreparationTask!.resourceFiles![0]!;
  assert.equal(rf.identityReference?.resourceId, IDENTITY.resourceId);
  assert.equal(rf.httpUrl, `${az.blobEndpoint}/scripts/pixbatch/pixbatch-${bundle.version}-linux-x64.tar.gz`);
  const expected = createHash('sha256').update(execFileSync('tar', ['-xzOf', bundle.file, BUNDLE_SCRIPT], { maxBuffer: 64 * 1024 * 1024 })).digest('hex');
  for (const node of ['node1', 'node2']) {
    const script = join(dir, 'batch', 'nodes', node, 'shared', `pixbatch-${bundle.sha256.slice(0, 16)}`, BUNDLE_SCRIPT);
    assert.equal(createHash('sha256').update(await readFile(script)).digest('hex'), expected, `${node} runs the deployed script`);
  }
  const tasks = [];
  for await (const t of client.listTasks(job.id, { select: 'id,commandLine,environmentSettings' })) tasks.push(t);
  assert.ok(tasks.every((t) => t.commandLine.includes(`pixbatch-${bundle.sha256.slice(0, 16)}/${BUNDLE_SCRIPT}`)));
  assert.ok(tasks.every((t) => t.environmentSettings?.some((e) => e.name === 'AZURE_CLIENT_ID' && e.value === IDENTITY.clientId)));
  assert.ok(tasks.every((t) => !/AccountKey|sig=/.test(t.commandLine)), 'no secret on any command line');
});

test('a node pre-empted mid-task: nothing lost, no image counted twice', async () => {
  await uploadImages(`${az.blobEndpoint}/pre-in`, 300);
  const jobId = 'pixbatch-preempt';
  const running = run('pre', { shardSize: 150, jobId });
  // Pre-empt the node once its task has written some outputs but not all.
  const { nodeId, taskId } = await batch.waitForRunningTask(jobId);
  const out = await openStore(`${az.blobEndpoint}/pre-out`, 'source');
  for (let n = 0; n < 5; ) {
    n = 0;
    for await (const e of out.list({ prefix: 'img/' })) if (e.name.endsWith('.png')) n++;
    if (n < 5) await new Promise((r) => setTimeout(r, 10));
  }
  await batch.preempt(nodeId);
  const result = await running;
  assert.deepEqual(result.summary.counts, { total: 300, converted: 300, skipped: 0, failed: 0 });
  assertEachOnce(result.report!, imageNames(300));
  const task = await client.getTask(jobId, taskId);
  assert.ok((task.executionInfo?.requeueCount ?? 0) >= 1, 'the pre-empted task was queued again');
  assert.equal(batchExitCode(result), 0);
  await out.close?.();
});

test('a task that fails is reported with its stderr tail and the run exits non-zero', async () => {
  await uploadImages(`${az.blobEndpoint}/fail-in`, 20);
  batch.failNextTask({ taskId: 'shard-00001', exitCode: 3, stderr: 'pixbatch worker: storage refused the credential\n', times: 10 });
  const result = await run('fail', { shardSize: 10, maxTaskRetries: 1 });
  assert.equal(result.failedTasks.length, 1);
  const failed = result.failedTasks[0]!;
  assert.equal(failed.id, 'shard-00001');
  assert.equal(failed.exitCode, 3);
  assert.match(failed.stderrTail, /storage refused the credential/);
  assert.equal(result.summary.counts.converted, 10);
  assert.equal(result.summary.counts.failed, 10);
  assert.ok(result.summary.failures.every((f) => f.code === 'TASK_FAILED' && /shard-00001 failed with exit code 3/.test(f.message)));
  assert.notEqual(batchExitCode(result), 0);
});
