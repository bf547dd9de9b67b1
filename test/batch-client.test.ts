// The Batch client against the loopback Batch stand-in: what the service rejects, paging, auth,
// retries, and tasks that really run on the stand-in's nodes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient } from '@azure/core-rest-pipeline';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  BatchClient,
  BatchError,
  BatchSharedKeyCredential,
  BATCH_API_VERSION,
  BATCH_SCOPE,
  batchSharedKeySignature,
  batchStringToSign,
  type BatchJobSpec,
  type BatchTaskSpec,
} from '../src/batch/client.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import * as spec from './batch-standin/spec/batch-service.js';
import { responseDrift } from './batch-standin/spec/check.js';
import { rejectsWith } from './harness/batch-error.js';

function clientFor(s: BatchStandIn, key = s.accountKey): BatchClient {
  return new BatchClient(s.url, new BatchSharedKeyCredential(s.accountName, key), { retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 } });
}

function staticToken(token: string, seen: string[][] = []): TokenCredential {
  return {
    async getToken(scopes): Promise<AccessToken> {
      seen.push(Array.isArray(scopes) ? scopes : [scopes]);
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

const job = (id: string, extra: Partial<BatchJobSpec> = {}): BatchJobSpec => ({ id, poolInfo: { poolId: 'pixbatch-pool' }, ...extra });
const tasks = (n: number, prefix = 't', commandLine = 'true'): BatchTaskSpec[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${String(i).padStart(4, '0')}`, commandLine }));

describe('Batch shared-key signing against published values', () => {
  // Azure/BatchExplorer, src/app/services/core/batch-shared-key-authenticator.spec.ts, "sign simple POST request
  // correctly with body": account testaccount, key "somekey", ocp-date Fri, 05 Oct 2018 09:05:06 GMT, a POST to
  // /pools with the body {"id":"some"}. That test passes the verb in lower case, and it is signed as given.
  it('reproduces the signature Batch Explorer publishes for a POST with a body', () => {
    const headers: Record<string, string> = { 'ocp-date': 'Fri, 05 Oct 2018 09:05:06 GMT', 'content-length': String(Buffer.byteLength('{"id":"some"}')) };
    const toSign = batchStringToSign('testaccount', 'post', 'https://testaccount.westus2.batch.azure.com/pools', (n) => headers[n], Object.keys(headers));
    assert.equal(batchSharedKeySignature('somekey', toSign), 'GgI/PPSZVqHRx3U4A+QbkXY0FdMv/2bUzxfBI5c2x+s=');
  });

  // azure-batch for Python (BatchSharedKeyAuthPolicy): a request other than GET or HEAD without Content-Length
  // signs "0"; a GET signs the slot empty.
  it('signs Content-Length as 0 for a POST without a body and empty for a GET, as the official SDK does', () => {
    const headers: Record<string, string> = { 'ocp-date': 'Fri, 05 Oct 2018 09:05:06 GMT' };
    const slot = (method: string) => batchStringToSign('a', method, 'https://a.b.batch.azure.com/jobs/j/terminate', (n) => headers[n], Object.keys(headers)).split('\n')[3];
    assert.equal(slot('POST'), '0');
    assert.equal(slot('DELETE'), '0');
    assert.equal(slot('GET'), '');
    assert.equal(slot('HEAD'), '');
  });
});

describe('Batch client and stand-in: requests the service rejects', () => {
  let s: BatchStandIn;
  let batch: BatchClient;
  before(async () => {
    // No nodes: tasks stay queued, so these tests only exercise the REST surface.
    s = await startBatchStandIn({ nodes: 0 });
    batch = clientFor(s);
  });
  after(() => s.stop());

  it('reads the pool with a shared-key signed request', async () => {
    const pool = await batch.getPool('pixbatch-pool');
    assert.equal(pool.id, 'pixbatch-pool');
    assert.equal(pool.state, 'active');
  });

  it('fails with 403 AuthenticationFailed when the shared key is wrong', async () => {
    const wrong = clientFor(s, Buffer.from('not the key').toString('base64'));
    await rejectsWith(wrong.getPool('pixbatch-pool'), 403, 'AuthenticationFailed');
  });

  it('refuses a correctly signed request whose ocp-date is more than 15 minutes old', async () => {
    const url = `${s.url}/pools/pixbatch-pool?api-version=${BATCH_API_VERSION}`;
    const sign = (date: string) => {
      const headers: Record<string, string> = { 'ocp-date': date };
      const toSign = batchStringToSign(s.accountName, 'GET', url, (n) => headers[n], Object.keys(headers));
      return { ...headers, authorization: `SharedKey ${s.accountName}:${batchSharedKeySignature(s.accountKey, toSign)}` };
    };
    assert.equal((await fetch(url, { headers: sign(new Date().toUTCString()) })).status, 200);
    const stale = await fetch(url, { headers: sign(new Date(Date.now() - 20 * 60_000).toUTCString()) });
    assert.equal(stale.status, 403);
    assert.equal(((await stale.json()) as { code: string }).code, 'AuthenticationFailed');
  });

  it('signs paths with escaped characters the way the service reads them', async () => {
    await rejectsWith(batch.getJob('schedule:job-1'), 404, 'JobNotFound');
    await rejectsWith(batch.getTaskFile('a b', 'c', 'dir/std err.txt'), 404, 'JobNotFound');
  });

  it('answers 404 PoolNotFound and JobNotFound with the service message kept', async () => {
    const err = await rejectsWith(batch.getPool('nope'), 404, 'PoolNotFound');
    assert.match(err.serviceMessage, /does not exist/);
    await rejectsWith(batch.getJob('nope'), 404, 'JobNotFound');
  });

  it('refuses a second job with the same id with 409 JobExists', async () => {
    await batch.addJob(job('dup'));
    await rejectsWith(batch.addJob(job('DUP')), 409, 'JobExists');
  });

  it('refuses an unknown property value with 400 InvalidPropertyValue naming the property', async () => {
    const bad = job('badvalue', { onAllTasksComplete: 'sometimes' as never });
    const err = await rejectsWith(batch.addJob(bad), 400, 'InvalidPropertyValue');
    assert.ok(err.values?.some((v) => v.key === 'PropertyName' && v.value === 'onAllTasksComplete'));
    await rejectsWith(batch.addJob(job('bad id!')), 400, 'InvalidPropertyValue');
    await rejectsWith(batch.addJob({ id: 'nopool' } as BatchJobSpec), 400, 'MissingRequiredProperty');
  });

  it('refuses 101 tasks in one collection and accepts 100', async () => {
    await batch.addJob(job('hundred'));
    await rejectsWith(batch.addTaskCollection('hundred', tasks(101)), 400, 'InvalidPropertyValue');
    const r = await batch.addTaskCollection('hundred', tasks(100));
    assert.equal(r.length, 100);
    assert.ok(r.every((x) => x.status === 'success'));
  });

  it('refuses a collection body over 1 MB with 413 RequestBodyTooLarge', async () => {
    await batch.addJob(job('big'));
    const fat = tasks(20).map((t) => ({ ...t, environmentSettings: [{ name: 'PAD', value: 'x'.repeat(60_000) }] }));
    await rejectsWith(batch.addTaskCollection('big', fat), 413, 'RequestBodyTooLarge');
    const counts = await batch.getTaskCounts('big');
    assert.equal(counts.taskCounts.active, 0, 'nothing was added');
  });

  it('answers a duplicate task id with a per-task clienterror TaskExists while the others are added', async () => {
    await batch.addJob(job('dups'));
    await batch.addTaskCollection('dups', tasks(3));
    const r = await batch.addTaskCollection('dups', [...tasks(2, 'new'), { id: 't0001', commandLine: 'true' }]);
    const byId = new Map(r.map((x) => [x.taskId, x]));
    assert.equal(byId.get('t0001')?.status, 'clienterror');
    assert.equal(byId.get('t0001')?.error?.code, 'TaskExists');
    assert.equal(byId.get('new0000')?.status, 'success');
    assert.equal((await batch.getTaskCounts('dups')).taskCounts.active, 5);
  });

  it('lists tasks page by page through odata.nextLink with $filter and $select', async () => {
    await batch.addJob(job('paged'));
    await batch.addTaskCollection('paged', tasks(25));
    const before = s.calls.filter((c) => c.operation === 'listtasks').length;
    const pages: number[] = [];
    for await (const page of batch.listTasks('paged', { maxResults: 10, select: 'id,state', filter: "state eq 'active'" }).byPage()) {
      pages.push(page.length);
      for (const t of page) assert.deepEqual(Object.keys(t).sort(), ['id', 'state']);
    }
    assert.deepEqual(pages, [10, 10, 5]);
    assert.equal(s.calls.filter((c) => c.operation === 'listtasks').length - before, 3);
    const ids: string[] = [];
    for await (const t of batch.listTasks('paged', { maxResults: 7 })) ids.push(t.id);
    assert.equal(new Set(ids).size, 25);
    assert.equal(await countOf(batch.listTasks('paged', { filter: "state eq 'completed'" })), 0);
    await rejectsWith(countOf(batch.listTasks('paged', { filter: 'state equals 1' })), 400, 'InvalidQueryParameterValue');
  });

  it('sends $filter, $select and $expand literally with values percent-encoded, never %24 or +', async () => {
    const urls: string[] = [];
    const http = createDefaultHttpClient();
    const watched = new BatchClient(s.url, new BatchSharedKeyCredential(s.accountName, s.accountKey), {
      httpClient: { sendRequest: (req) => (urls.push(req.url), http.sendRequest(req)) },
    });
    await watched.addJob(job('encoded'));
    await watched.addTaskCollection('encoded', tasks(3));
    const pages = watched.listTasks('encoded', { filter: "state eq 'active'", select: 'id,state', expand: 'stats', maxResults: 2 }).byPage();
    for await (const _ of pages) {
      // every page, including the ones that follow odata.nextLink
    }
    const lists = urls.filter((u) => u.includes('/tasks?'));
    assert.equal(lists.length, 2);
    for (const u of lists) {
      const query = u.slice(u.indexOf('?') + 1);
      assert.match(query, /(^|&)\$filter=state%20eq%20/, u);
      assert.match(query, /(^|&)\$select=id%2Cstate(&|$)/, u);
      assert.doesNotMatch(query, /%24|\+/, u);
    }
    assert.match(lists[0]!, /(^|&|\?)\$expand=stats(&|$)/);
  });

  it('refuses %24 parameter names and + in values, as a client using URLSearchParams would send them', async () => {
    // The same signed request, its query rewritten on the way out (the signature covers decoded names and values).
    const rewriting = (from: RegExp, to: string) =>
      new BatchClient(s.url, new BatchSharedKeyCredential(s.accountName, s.accountKey), {
        retryOptions: { maxRetries: 0 },
        httpClient: { sendRequest: (req) => ((req.url = req.url.replace(from, to)), createDefaultHttpClient().sendRequest(req)) },
      });
    const filter = { filter: "state eq 'active'" };
    const named = await rejectsWith(countOf(rewriting(/\$filter=/, '%24filter=').listTasks('encoded', filter)), 400, 'InvalidQueryParameterValue');
    assert.ok(named.values?.some((v) => v.key === 'QueryParameterName' && v.value === '$filter'));
    await rejectsWith(countOf(rewriting(/%20/g, '+').listTasks('encoded', filter)), 400, 'InvalidQueryParameterValue');
  });

  it('retries 429 and 503 answers that carry Retry-After, then succeeds', async () => {
    const before = s.calls.length;
    s.throttleNext(1, 429, 1);
    await batch.getPool('pixbatch-pool');
    s.throttleNext(2, 503, 0);
    await batch.getPool('pixbatch-pool');
    const statuses = s.calls.slice(before).map((c) => c.status);
    assert.deepEqual(statuses, [429, 200, 503, 503, 200]);
  });

  it('gives up with a BatchError once the retries are spent', async () => {
    const impatient = new BatchClient(s.url, new BatchSharedKeyCredential(s.accountName, s.accountKey), {
      retryOptions: { maxRetries: 1, retryDelayInMs: 1, maxRetryDelayInMs: 1 },
    });
    s.throttleNext(2, 500);
    await rejectsWith(impatient.getPool('pixbatch-pool'), 500, 'InternalError');
  });

  it('stops a call when its abort signal fires', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(batch.getPool('pixbatch-pool', { abortSignal: ac.signal }), (e: Error) => e.name === 'AbortError');
  });

  it('completes a job with terminatejob and no tasks at once, and one whose tasks are added before the switch only when they end', async () => {
    await batch.addJob(job('empty', { onAllTasksComplete: 'terminatejob' }));
    await s.waitForJob('empty');
    assert.equal((await batch.getJob('empty')).executionInfo?.terminateReason, 'AllTasksComplete');
    await batch.addJob(job('later'));
    await batch.addTaskCollection('later', tasks(2));
    await batch.patchJob('later', { onAllTasksComplete: 'terminatejob' });
    assert.equal((await batch.getJob('later')).state, 'active', 'its tasks have not run');
    await rejectsWith(batch.patchJob('later', { onAllTasksComplete: 'noaction' }), 400, 'InvalidPropertyValue');
  });

  it('terminates and deletes a job', async () => {
    await batch.addJob(job('ending'));
    await batch.addTaskCollection('ending', tasks(2));
    await batch.terminateJob('ending', { terminateReason: 'stop it' });
    await s.waitForJob('ending');
    const j = await batch.getJob('ending');
    assert.equal(j.state, 'completed');
    assert.equal(j.executionInfo?.terminateReason, 'stop it');
    await rejectsWith(batch.addTaskCollection('ending', tasks(1, 'x')), 409, 'JobCompleted');
    await batch.deleteJob('ending');
    await waitFor(async () => (await batch.getJob('ending').catch((e: BatchError) => e)) instanceof BatchError);
    await rejectsWith(batch.getJob('ending'), 404, 'JobNotFound');
  });
});

describe('Batch client and stand-in: job schedules', () => {
  let s: BatchStandIn;
  let batch: BatchClient;
  before(async () => {
    // PT1M recurs every 10 ms of real time.
    s = await startBatchStandIn({ nodes: 0, timeScale: 6000 });
    batch = clientFor(s);
  });
  after(() => s.stop());

  it('makes a job from the specification at each recurrence, one at a time, and deletes them with the schedule', async () => {
    await batch.addJobSchedule({
      id: 'often',
      schedule: { recurrenceInterval: 'PT1M' },
      // No tasks and terminatejob: each job ends at once, so the next one may start.
      jobSpecification: { poolInfo: { poolId: 'pixbatch-pool' }, onAllTasksComplete: 'terminatejob', metadata: [{ name: 'k', value: 'v' }] },
    });
    await s.waitForJob('often:job-3');
    const jobs = await collect(batch.listJobsFromSchedule('often'));
    assert.ok(jobs.length >= 3);
    assert.deepEqual(jobs[0]?.metadata, [{ name: 'k', value: 'v' }]);
    const sched = await batch.getJobSchedule('often');
    assert.equal(sched.state, 'active');
    assert.match(sched.executionInfo?.recentJob?.id ?? '', /^often:job-\d+$/);
    assert.deepEqual((await collect(batch.listJobSchedules())).map((x) => x.id), ['often']);
    await rejectsWith(batch.addJobSchedule({ id: 'often', schedule: {}, jobSpecification: { poolInfo: { poolId: 'p' } } }), 409, 'JobScheduleExists');
    await batch.deleteJobSchedule('often');
    await waitFor(async () => (await collect(batch.listJobSchedules())).length === 0);
    assert.equal((await collect(batch.listJobs())).filter((j) => j.id.startsWith('often:')).length, 0);
    await rejectsWith(batch.getJobSchedule('often'), 404, 'JobScheduleNotFound');
  });

  it('waits for the running job before making the next, and refuses a recurrence that is not a duration', async () => {
    await batch.addJobSchedule({ id: 'slow', schedule: { recurrenceInterval: 'PT1M' }, jobSpecification: { poolInfo: { poolId: 'pixbatch-pool' } } });
    await waitFor(async () => (await collect(batch.listJobsFromSchedule('slow'))).length > 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await collect(batch.listJobsFromSchedule('slow'))).length, 1, 'job-1 never ends, so no job-2');
    await batch.terminateJob('slow:job-1');
    await s.waitForJob('slow:job-1');
    await waitFor(async () => (await collect(batch.listJobsFromSchedule('slow'))).length === 2);
    await batch.deleteJobSchedule('slow');
    await rejectsWith(
      batch.addJobSchedule({ id: 'bad', schedule: { recurrenceInterval: 'hourly' }, jobSpecification: { poolInfo: { poolId: 'p' } } }),
      400,
      'InvalidPropertyValue',
    );
  });
});

describe('Batch client and stand-in: bearer tokens', () => {
  let s: BatchStandIn;
  before(async () => {
    s = await startBatchStandIn({ nodes: 0, acceptTokens: ['good-token'] });
  });
  after(() => s.stop());

  it('sends a bearer token for the Batch scope over TLS and is let in', async () => {
    const scopes: string[][] = [];
    const batch = new BatchClient(s.url, staticToken('good-token', scopes), { tlsCa: s.tlsCa });
    assert.equal((await batch.getPool('pixbatch-pool')).id, 'pixbatch-pool');
    assert.deepEqual(scopes[0], [BATCH_SCOPE]);
  });

  it('pages through the plain-http door with links that stay on it', async () => {
    const plain = new BatchClient(s.httpUrl, new BatchSharedKeyCredential(s.accountName, s.accountKey));
    await plain.addJob(job('plain'));
    await plain.addTaskCollection('plain', tasks(5));
    assert.equal(await countOf(plain.listTasks('plain', { maxResults: 2 })), 5);
  });

  it('is refused with 403 AuthenticationFailed for a token the account does not accept', async () => {
    const batch = new BatchClient(s.url, staticToken('stolen'), { tlsCa: s.tlsCa });
    await rejectsWith(batch.getPool('pixbatch-pool'), 403, 'AuthenticationFailed');
  });
});

describe('Batch client and stand-in: tasks running on nodes', () => {
  let s: BatchStandIn;
  let az: Azurite;
  let batch: BatchClient;
  let scratch: string;
  let toolUrl: string;
  before(async () => {
    az = await startAzurite();
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('scripts');
    await container.create();
    const blob = container.getBlockBlobClient('tools/tool.txt');
    await blob.upload('tool v1\n', 8);
    toolUrl = blob.url;
    scratch = await mkdtemp(join(tmpdir(), 'batch-client-test-'));
    s = await startBatchStandIn({
      nodes: 2,
      storageConnectionString: az.connectionString,
      taskEnvironment: { SCRATCH: scratch },
      rootDir: join(scratch, 'standin'),
      pool: { identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: '/identities/pixbatch' }] } },
    });
    batch = clientFor(s);
  });
  after(async () => {
    await s?.stop();
    await az?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('runs the preparation task once per node before its tasks, with resource files and the AZ_BATCH environment', async () => {
    await batch.addJob(
      job('env', {
        jobPreparationTask: {
          commandLine: 'cat tool.txt > "$AZ_BATCH_NODE_SHARED_DIR/tool-copy.txt" && echo "$AZ_BATCH_NODE_ID" >> "$SCRATCH/prep-runs.txt"',
          resourceFiles: [{ httpUrl: toolUrl, filePath: 'tool.txt', identityReference: { resourceId: '/identities/pixbatch' } }],
        },
        commonEnvironmentSettings: [{ name: 'COMMON', value: 'from-job' }],
      }),
    );
    const cmd =
      'cat "$AZ_BATCH_JOB_PREP_WORKING_DIR/tool.txt"; echo "job=$AZ_BATCH_JOB_ID task=$AZ_BATCH_TASK_ID pool=$AZ_BATCH_POOL_ID ' +
      'retry=$AZ_BATCH_TASK_RETRY_COUNT common=$COMMON own=$OWN wd=$(pwd)"; test "$(pwd)" = "$AZ_BATCH_TASK_WORKING_DIR" && ' +
      'echo "$AZ_BATCH_TASK_ID" >> "$SCRATCH/task-runs.txt"';
    await batch.addTaskCollection(
      'env',
      Array.from({ length: 4 }, (_, i) => ({ id: `task${i}`, commandLine: cmd, environmentSettings: [{ name: 'OWN', value: `own${i}` }] })),
    );
    await batch.patchJob('env', { onAllTasksComplete: 'terminatejob' });
    await s.waitForJob('env');
    const done = await collect(batch.listTasks('env', { filter: "state eq 'completed'", select: 'id,executionInfo,nodeInfo' }));
    assert.equal(done.length, 4);
    for (const t of done) assert.equal(t.executionInfo?.result, 'success', t.id);
    const out = await batch.getTaskFile('env', 'task2', 'stdout.txt');
    assert.match(out, /^tool v1\n/);
    assert.match(out, /job=env task=task2 pool=pixbatch-pool retry=0 common=from-job own=own2/);
    const runs = (await readFile(join(scratch, 'task-runs.txt'), 'utf8')).trim().split('\n').sort();
    assert.deepEqual(runs, ['task0', 'task1', 'task2', 'task3'], 'each task ran once');
    const prepRuns = (await readFile(join(scratch, 'prep-runs.txt'), 'utf8')).trim().split('\n');
    const nodesUsed = new Set(done.map((t) => t.nodeInfo?.nodeId));
    assert.equal(prepRuns.length, nodesUsed.size, 'one preparation per node that ran tasks');
    assert.equal(new Set(prepRuns).size, prepRuns.length);
    const counts = await batch.getTaskCounts('env');
    assert.deepEqual(counts.taskCounts, { active: 0, running: 0, completed: 4, succeeded: 4, failed: 0 });
  });

  it('fails a preparation task whose resource file names an identity the pool does not have, and runs no task there', async () => {
    await batch.addJob(
      job('noident', {
        jobPreparationTask: { commandLine: 'true', resourceFiles: [{ httpUrl: toolUrl, filePath: 'x', identityReference: { resourceId: '/identities/other' } }] },
      }),
    );
    await batch.addTaskCollection('noident', tasks(1));
    const prepErr = (n: number) => join(scratch, 'standin', 'nodes', `node${n}`, 'workitems', 'noident', 'job-1', 'jobpreparation', 'stderr.txt');
    await waitFor(async () => (await Promise.all([1, 2].map((n) => readFile(prepErr(n), 'utf8').catch(() => '')))).every((x) => x !== ''));
    assert.match(await readFile(prepErr(1), 'utf8'), /not assigned to the pool/);
    const [t] = await collect(batch.listTasks('noident'));
    assert.equal(t?.state, 'active');
    assert.equal(t?.executionInfo, undefined, 'it never ran');
    await batch.terminateJob('noident');
    await s.waitForJob('noident');
  });

  it('retries a failing task up to maxTaskRetryCount and keeps the last stderr', async () => {
    await batch.addJob(job('retry'));
    s.failNextTask({ taskId: 'flaky', stderr: 'first attempt broke\n' });
    await batch.addTaskCollection('retry', [
      { id: 'flaky', commandLine: 'echo "attempt $AZ_BATCH_TASK_RETRY_COUNT"', constraints: { maxTaskRetryCount: 2 } },
      { id: 'broken', commandLine: 'echo "line one" >&2; echo "the real reason" >&2; exit 3', constraints: { maxTaskRetryCount: 1 } },
    ]);
    await batch.patchJob('retry', { onAllTasksComplete: 'terminatejob' });
    await s.waitForJob('retry');
    const flaky = await batch.getTask('retry', 'flaky');
    assert.equal(flaky.executionInfo?.result, 'success');
    assert.equal(flaky.executionInfo?.retryCount, 1);
    assert.equal(await batch.getTaskFile('retry', 'flaky', 'stdout.txt'), 'attempt 1\n');
    const broken = await batch.getTask('retry', 'broken');
    assert.equal(broken.executionInfo?.result, 'failure');
    assert.equal(broken.executionInfo?.exitCode, 3);
    assert.equal(broken.executionInfo?.retryCount, 1);
    assert.equal(broken.executionInfo?.failureInfo?.code, 'FailureExitCode');
    assert.equal(await batch.getTaskFile('retry', 'broken', 'stderr.txt', { tailBytes: 16 }), 'the real reason\n');
    assert.equal(await batch.getTaskFile('retry', 'broken', 'stderr.txt', { range: { start: 0, end: 3 } }), 'line');
    await rejectsWith(batch.getTaskFile('retry', 'broken', 'nothing.txt'), 404, 'FileNotFound');
    const failed = await collect(batch.listTasks('retry', { filter: "executionInfo/result eq 'failure'", select: 'id' }));
    assert.deepEqual(failed.map((t) => t.id), ['broken']);
  });

  it('ends a task that runs past maxWallClockTime', async () => {
    await batch.addJob(job('slow'));
    await batch.addTaskCollection('slow', [{ id: 'sleeper', commandLine: 'sleep 30', constraints: { maxWallClockTime: 'PT1S', maxTaskRetryCount: 3 } }]);
    await batch.patchJob('slow', { onAllTasksComplete: 'terminatejob' });
    await s.waitForJob('slow');
    const t = await batch.getTask('slow', 'sleeper');
    assert.equal(t.executionInfo?.result, 'failure');
    assert.equal(t.executionInfo?.failureInfo?.code, 'TaskEnded');
    assert.equal(t.executionInfo?.retryCount, 0);
  });

  it('re-queues the running task of a pre-empted node without counting a retry, and it then completes', async () => {
    await batch.addJob(job('preempt'));
    const marker = join(scratch, 'preempt-first-run');
    await batch.addTaskCollection('preempt', [
      { id: 'victim', commandLine: `if [ -e "${marker}" ]; then echo second run; else touch "${marker}"; sleep 30; fi` },
    ]);
    const { nodeId } = await s.waitForRunningTask('preempt', { taskId: 'victim' });
    await waitFor(async () => {
      try {
        await readFile(marker);
        return true;
      } catch {
        return false;
      }
    });
    await s.preempt(nodeId);
    await batch.patchJob('preempt', { onAllTasksComplete: 'terminatejob' });
    await s.waitForJob('preempt');
    const t = await batch.getTask('preempt', 'victim');
    assert.equal(t.executionInfo?.result, 'success');
    assert.equal(t.executionInfo?.requeueCount, 1);
    assert.equal(t.executionInfo?.retryCount, 0);
    assert.equal(await batch.getTaskFile('preempt', 'victim', 'stdout.txt'), 'second run\n');
  });

  it('re-queues a task whose node is pre-empted while the preparation task runs, and prepares the node again', async () => {
    const marker = join(scratch, 'prep-first-run');
    await batch.addJob(
      job('preempt-prep', {
        jobPreparationTask: { commandLine: `if [ -e "${marker}" ]; then echo again > prepared.txt; else touch "${marker}"; sleep 30; fi` },
      }),
    );
    await batch.addTaskCollection('preempt-prep', [{ id: 'waiting', commandLine: 'cat "$AZ_BATCH_JOB_PREP_WORKING_DIR/prepared.txt"' }]);
    await waitFor(async () => readFile(marker).then(() => true, () => false));
    await Promise.all(s.nodeIds.map((n) => s.preempt(n)));
    await batch.patchJob('preempt-prep', { onAllTasksComplete: 'terminatejob' });
    await s.waitForJob('preempt-prep');
    const t = await batch.getTask('preempt-prep', 'waiting');
    assert.equal(t.executionInfo?.result, 'success');
    assert.equal(t.executionInfo?.retryCount, 0);
    assert.equal(t.executionInfo?.requeueCount, 1);
    assert.equal(await batch.getTaskFile('preempt-prep', 'waiting', 'stdout.txt'), 'again\n');
  });

  it('kills running tasks when the job is terminated', async () => {
    await batch.addJob(job('killme'));
    await batch.addTaskCollection('killme', [{ id: 'long', commandLine: `sleep 30; touch "${join(scratch, 'should-not-exist')}"` }]);
    await s.waitForRunningTask('killme');
    await batch.terminateJob('killme');
    await s.waitForJob('killme');
    const t = await batch.getTask('killme', 'long');
    assert.equal(t.state, 'completed');
    assert.equal(t.executionInfo?.failureInfo?.code, 'TaskEnded');
    await assert.rejects(readFile(join(scratch, 'should-not-exist')));
  });

  it('writes what tasks print to stdout.txt in the task directory', async () => {
    await batch.addJob(job('files', { onAllTasksComplete: 'noaction' }));
    await batch.addTaskCollection('files', [{ id: 'w', commandLine: 'printf abc; echo out > out.txt' }]);
    await batch.patchJob('files', { onAllTasksComplete: 'terminatejob' });
    await s.waitForJob('files');
    assert.equal(await readFile(join(s.taskDir('files', 'w')!, 'stdout.txt'), 'utf8'), 'abc');
    assert.equal(await batch.getTaskFile('files', 'w', 'wd/out.txt'), 'out\n');
  });

  it('parses answers that conform to the response definitions of BatchService.json', async () => {
    assert.deepEqual(responseDrift(spec.CloudPool, await batch.getPool('pixbatch-pool')), []);
    for (const id of ['env', 'noident', 'killme', 'files']) {
      assert.deepEqual(responseDrift(spec.CloudJob, await batch.getJob(id)), [], id);
      assert.deepEqual(responseDrift(spec.TaskCountsResult, await batch.getTaskCounts(id)), [], id);
      const all = await collect(batch.listTasks(id));
      assert.ok(all.length > 0);
      for (const t of all) assert.deepEqual(responseDrift(spec.CloudTask, t), [], `${id}/${t.id}`);
    }
    await batch.addJob(job('conform'));
    await batch.addTaskCollection('conform', tasks(1, 'c', 'sleep 5'));
    const results = await batch.addTaskCollection('conform', tasks(2, 'c', 'sleep 5'));
    assert.deepEqual(results.map((r) => r.status).sort(), ['clienterror', 'success']);
    assert.deepEqual(responseDrift(spec.TaskAddCollectionResult, { value: results }), []);
    await batch.terminateJob('conform');
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function countOf(it: AsyncIterable<unknown>): Promise<number> {
  return (await collect(it)).length;
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}
