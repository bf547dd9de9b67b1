import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveOptions } from '../src/options.js';
import { FsStore } from '../src/store/fs.js';
import { JobFolder, jobFolderLocation, parseJsonl, shardFile } from '../src/batch/job-folder.js';
import { autoShardSize, coresOfVmSize, cutShards, parseShardSize, planShards, roundRobinShards } from '../src/batch/shards.js';
import { addTasks, jobSpec, taskSpecs } from '../src/batch/submit.js';
import { BatchError, type BatchClient, type BatchTaskSpec, type TaskAddResult } from '../src/batch/client.js';
import type { WorkItem } from '../src/interfaces.js';
import { runPixbatch } from './harness/cli.js';
import { otlpAttributes, otlpJsonSpans, startOtlpReceiver } from './harness/telemetry-sinks.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-plan-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('round-robin gives task i the items i, i+N, i+2N, …', () => {
  const shards = roundRobinShards([0, 1, 2, 3, 4, 5, 6], 3);
  assert.deepEqual(shards, [[0, 3, 6], [1, 4], [2, 5]]);
  assert.deepEqual(roundRobinShards([0, 1], 5), [[0], [1]], 'never more shards than items');
  assert.deepEqual(roundRobinShards([], 3), []);
});

test('contiguous shards hold at most the shard size, the last one the rest', () => {
  assert.deepEqual(cutShards([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

test('auto shard size gives every slot several tasks on a small job and caps a task at minutes of work on a big one', () => {
  const pool = { nodes: 2, cores: 2, slotsPerNode: 1 };
  const small = autoShardSize(500, 500 * 2 * 1024 * 1024, pool);
  assert.equal(small, Math.ceil(500 / 8));
  const big = autoShardSize(1_000_000, 1_000_000 * 2 * 1024 * 1024, pool);
  // 5 images/s per core x 2 cores x 180 s for 2 MB images.
  assert.equal(big, 1800);
  const bigger = autoShardSize(1_000_000, 1_000_000 * 8 * 1024 * 1024, pool);
  assert.ok(bigger < big, 'larger images mean fewer per task');
  assert.equal(autoShardSize(1, 10, pool), 1);
});

test('VM sizes give their vCPU count', () => {
  assert.equal(coresOfVmSize('Standard_D2s_v3'), 2);
  assert.equal(coresOfVmSize('standard_f16s_v2'), 16);
  assert.equal(coresOfVmSize('STANDARD_D4ADS_V5'), 4);
  assert.equal(coresOfVmSize(undefined), 2);
});

test('shard size is auto or a whole number, and says what it accepts otherwise', () => {
  assert.equal(parseShardSize(undefined), 'auto');
  assert.equal(parseShardSize('auto'), 'auto');
  assert.equal(parseShardSize('25'), 25);
  assert.throws(() => parseShardSize('0'), /Expected "auto" or an integer between 1 and \d+ for shard-size but received "0"/);
  assert.throws(() => parseShardSize('many'), /shard-size/);
});

test('the job folder sits under the destination, for folders and Blob Storage alike, without a SAS', () => {
  assert.equal(jobFolderLocation('https://a.blob.core.windows.net/converted/x?sv=1&sig=secret', 'j1'), 'https://a.blob.core.windows.net/converted/x/.pixbatch/jobs/j1');
  assert.equal(jobFolderLocation('/data/out', 'j1'), '/data/out/.pixbatch/jobs/j1');
});

test('planning writes shard files of what needs converting and records what is already up to date', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'in');
  const dst = join(dir, 'out');
  await mkdir(join(src, 'sub'), { recursive: true });
  await mkdir(dst, { recursive: true });
  for (let i = 0; i < 7; i++) await writeFile(join(src, 'sub', `img${i}.jpg`), `not really a jpeg ${i}`);
  await writeFile(join(src, 'notes.txt'), 'left out by the default globs');
  // img3 already has a newer output: planning leaves it out of the shards.
  await mkdir(join(dst, 'sub'), { recursive: true });
  await writeFile(join(dst, 'sub', 'img3.png'), 'done');
  const future = new Date(Date.now() + 60_000);
  await utimes(join(dst, 'sub', 'img3.png'), future, future);

  const folder = await JobFolder.open(jobFolderLocation(dst, 'job-1'));
  const planned = await planShards({
    source: new FsStore(src),
    destination: new FsStore(dst),
    folder,
    options: resolveOptions({}),
    shardSize: 4,
    roundRobin: false,
    pool: { nodes: 2, cores: 2, slotsPerNode: 1 },
  });
  assert.deepEqual(planned.planned, { total: 7, convert: 6, skip: 1, fail: 0 });
  assert.deepEqual(planned.shardItems, [4, 2]);
  const shard0 = parseJsonl<WorkItem>(await readFile(join(dst, '.pixbatch', 'jobs', 'job-1', 'shards', '00000.jsonl')), 'shard');
  const shard1 = await folder.readShard(1);
  const names = [...shard0, ...shard1].map((i) => i.name).sort();
  assert.deepEqual(names, ['sub/img0.jpg', 'sub/img1.jpg', 'sub/img2.jpg', 'sub/img4.jpg', 'sub/img5.jpg', 'sub/img6.jpg']);
  assert.equal(shard0[0]!.output.endsWith('.png'), true);
  assert.ok(shard0[0]!.etag, 'shard items carry the source version the output will record');
  const planning = await folder.readResults('results/planning.jsonl');
  assert.deepEqual(planning?.map((r) => [r.name, r.status]), [['sub/img3.jpg', 'skipped']]);
  assert.equal(shardFile(1), 'shards/00001.jsonl');
});

test('round-robin planning makes one shard per node', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'in');
  await mkdir(src, { recursive: true });
  for (let i = 0; i < 10; i++) await writeFile(join(src, `p${i}.jpg`), 'x');
  const folder = await JobFolder.open(join(dir, 'job'));
  const planned = await planShards({
    source: new FsStore(src),
    destination: new FsStore(join(dir, 'out')),
    folder,
    options: resolveOptions({}),
    shardSize: 'auto',
    roundRobin: true,
    pool: { nodes: 3, cores: 2, slotsPerNode: 1 },
  });
  assert.equal(planned.size, 'round-robin');
  assert.deepEqual(planned.shardItems, [4, 3, 3]);
});

test('a pool run shards the formats --from names, intersected with --include, as a local run selects them', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'in');
  await mkdir(join(src, 'shop'), { recursive: true });
  for (const name of ['a.jpg', 'b.png', 'c.WEBP', 'shop/d.png', 'shop/e.gif', 'notes.txt']) await writeFile(join(src, name), 'x');
  const plannedNames = async (job: string, options: Parameters<typeof resolveOptions>[0]) => {
    const folder = await JobFolder.open(join(dir, job));
    const planned = await planShards({
      source: new FsStore(src),
      destination: new FsStore(join(dir, `out-${job}`)),
      folder,
      options: resolveOptions(options),
      shardSize: 100,
      roundRobin: false,
      pool: { nodes: 1, cores: 2, slotsPerNode: 1 },
    });
    const items = planned.shardItems.length ? await folder.readShard(0) : [];
    return items.map((i) => i.name).sort();
  };
  assert.deepEqual(await plannedNames('default', {}), ['a.jpg']);
  assert.deepEqual(await plannedNames('png-webp', { from: ['png', 'webp'] }), ['b.png', 'c.WEBP', 'shop/d.png']);
  assert.deepEqual(await plannedNames('png-in-shop', { from: 'png', include: ['shop/**'] }), ['shop/d.png']);
});

test('tasks carry the identity client id in their environment and no secret on the command line', () => {
  const job = jobSpec({
    jobId: 'j',
    poolId: 'p',
    bundleUrl: 'https://a.blob.core.windows.net/scripts/pixbatch/pixbatch-1.0.0-linux-x64.tar.gz',
    bundleSha256: 'ab'.repeat(32),
    jobFolder: 'https://a.blob.core.windows.net/converted/.pixbatch/jobs/j',
    identityResourceId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id',
  });
  const rf = job.jobPreparationTask!.resourceFiles![0]!;
  assert.equal(rf.identityReference?.resourceId.endsWith('/userAssignedIdentities/id'), true);
  assert.equal(rf.httpUrl!.includes('?'), false, 'no SAS on the bundle URL');
  assert.equal(job.onAllTasksComplete, 'noaction', 'switched to terminatejob only after the tasks are added');
  const [task] = taskSpecs({ sha256: 'ab'.repeat(32), jobFolder: 'https://a.blob.core.windows.net/converted/.pixbatch/jobs/j', shards: 3, maxTaskRetryCount: 3, maxWallClockTime: 'PT1H', identityClientId: 'client-123' });
  assert.equal(task!.id, 'shard-00000');
  assert.match(task!.commandLine, /^\/bin\/sh -c .*worker --job-folder https:\/\/a\.blob\.core\.windows\.net\/converted\/\.pixbatch\/jobs\/j --shard 0/);
  assert.deepEqual(task!.environmentSettings, [{ name: 'AZURE_CLIENT_ID', value: 'client-123' }]);
  assert.deepEqual(task!.constraints, { maxTaskRetryCount: 3, maxWallClockTime: 'PT1H' });
  // The same pool-wide non-admin user as the preparation task, so the task can run what it unpacked.
  assert.deepEqual(task!.userIdentity, { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } });
  assert.deepEqual(job.jobPreparationTask!.userIdentity, task!.userIdentity);
});

/** Just the one method addTasks calls, answering as the service would for the given faults. */
function collectionService(fault: (tasks: BatchTaskSpec[], call: number) => TaskAddResult[] | Error | undefined) {
  const calls: number[] = [];
  const added = new Set<string>();
  const client = {
    async addTaskCollection(_jobId: string, tasks: BatchTaskSpec[]): Promise<TaskAddResult[]> {
      calls.push(tasks.length);
      const f = fault(tasks, calls.length);
      if (f instanceof Error) throw f;
      if (f) {
        for (const r of f) if (r.status === 'success') added.add(r.taskId);
        return f;
      }
      return tasks.map((t) => {
        if (added.has(t.id)) return { status: 'clienterror' as const, taskId: t.id, error: { code: 'TaskExists', message: { value: 'exists' } } };
        added.add(t.id);
        return { status: 'success' as const, taskId: t.id };
      });
    },
  };
  return { client: client as unknown as BatchClient, calls, added };
}

const tasksOf = (n: number): BatchTaskSpec[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, commandLine: 'true' }));

test('tasks are added at most 100 per call', async () => {
  const svc = collectionService(() => undefined);
  const r = await addTasks(svc.client, 'j', tasksOf(250));
  assert.equal(r.added, 250);
  assert.deepEqual(svc.calls.sort((a, b) => b - a), [100, 100, 50]);
});

test('only the tasks that got a server error are sent again', async () => {
  const svc = collectionService((tasks, call) =>
    call === 1 ? tasks.map((t, i) => ({ status: i < 3 ? ('servererror' as const) : ('success' as const), taskId: t.id })) : undefined,
  );
  const r = await addTasks(svc.client, 'j', tasksOf(10));
  assert.equal(r.added, 10);
  assert.deepEqual(svc.calls, [10, 3]);
  assert.equal(svc.added.size, 10);
});

test('a call refused as too large is split in half until it fits', async () => {
  const tooLarge = new BatchError(413, 'RequestBodyTooLarge', 'The request body is too large');
  const svc = collectionService((tasks) => (tasks.length > 25 ? tooLarge : undefined));
  const r = await addTasks(svc.client, 'j', tasksOf(100));
  assert.equal(r.added, 100);
  assert.deepEqual(svc.calls.filter((n) => n <= 25).sort(), [25, 25, 25, 25]);
});

test('a task the service refuses for a client error stops the submission with its reason', async () => {
  const svc = collectionService((tasks) =>
    tasks.map((t) => ({ status: 'clienterror' as const, taskId: t.id, error: { code: 'InvalidPropertyValue', message: { value: 'bad commandLine' } } })),
  );
  await assert.rejects(addTasks(svc.client, 'j', tasksOf(2)), /InvalidPropertyValue bad commandLine/);
});

async function localJob(t: { after: (fn: () => Promise<void>) => void }, images: number) {
  const { jpegBuffer } = await import('./harness/images.js');
  const dir = await tempDir(t);
  const src = join(dir, 'in');
  const dst = join(dir, 'out');
  await mkdir(src, { recursive: true });
  for (let i = 0; i < images; i++) await writeFile(join(src, `p${i}.jpg`), await jpegBuffer(32, 24, i));
  const options = resolveOptions({ concurrency: 1 });
  const folderPath = jobFolderLocation(dst, 'job-w');
  const folder = await JobFolder.open(folderPath);
  const planned = await planShards({ source: new FsStore(src), destination: new FsStore(dst), folder, options, shardSize: 100, roundRobin: false, pool: { nodes: 1, cores: 2, slotsPerNode: 1 } });
  await folder.writeJob({
    jobId: 'job-w',
    tool: { name: 'pixbatch', version: '0' },
    createdAt: new Date().toISOString(),
    source: src,
    destination: dst,
    jobFolder: folderPath,
    spec: options.spec,
    options: { include: options.include, exclude: options.exclude, overwrite: options.overwrite, maxPixels: options.maxPixels },
    shards: { count: planned.shardItems.length, size: planned.size, items: planned.shardItems },
    planned: planned.planned,
  });
  return { src, dst, folder, folderPath };
}

test('a worker re-run after pre-emption converts nothing again and counts earlier outputs once, as converted', async (t) => {
  const { runWorker } = await import('../src/batch/worker.js');
  const job = await localJob(t, 3);
  assert.deepEqual(await runWorker({ jobFolder: job.folderPath, shard: 0 }), { converted: 3, skipped: 0, failed: 0 });
  const again = await runWorker({ jobFolder: job.folderPath, shard: 0 });
  assert.deepEqual(again, { converted: 3, skipped: 0, failed: 0 });
  const results = await job.folder.readResults('results/00000.jsonl');
  assert.deepEqual(results?.map((r) => r.reason), ['converted by an earlier attempt', 'converted by an earlier attempt', 'converted by an earlier attempt']);
});

test("a retried task's span counts this attempt's work and says apart how many images an earlier attempt left done", async (t) => {
  const otlp = await startOtlpReceiver();
  t.after(() => otlp.stop());
  const job = await localJob(t, 3);
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', AZ_BATCH_TASK_ID: 'task-0' };
  for (let attempt = 1; attempt <= 2; attempt++) {
    const r = await runPixbatch(['worker', '--job-folder', job.folderPath, '--shard', '0'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /shard 0: converted 3, skipped 0, failed 0/);
  }
  const spans = otlpJsonSpans(otlp).filter((s) => s.name === 'pixbatch batch-task').map((s) => otlpAttributes(s.attributes));
  assert.equal(spans.length, 2);
  const [first, retry] = spans;
  assert.equal(first!['pixbatch.images.converted'], 3);
  assert.equal(first!['pixbatch.images.earlier'], undefined, 'a first attempt found nothing done before it');
  assert.equal(retry!['pixbatch.images.converted'], 0, "the retry's own work: it converted nothing again");
  assert.equal(retry!['pixbatch.images.earlier'], 3);
  assert.equal(retry!['pixbatch.task.id'], 'task-0');
});

test('a source deleted after planning is that image failing, not the task', async (t) => {
  const { runWorker } = await import('../src/batch/worker.js');
  const job = await localJob(t, 2);
  await rm(join(job.src, 'p1.jpg'));
  const outcome = await runWorker({ jobFolder: job.folderPath, shard: 0 });
  assert.deepEqual(outcome, { converted: 1, skipped: 0, failed: 1 });
  const failed = (await job.folder.readResults('results/00000.jsonl'))?.find((r) => r.status === 'failed');
  assert.equal(failed?.name, 'p1.jpg');
  assert.equal(failed?.code, 'READ_FAILED');
});
