// A POST whose answer is lost after the service acted is replayed by the retry policy and answered 409:
// adding a job or a job schedule must still end with exactly one and no error, and must not take over
// one that another submission made.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchClient, BatchSharedKeyCredential, isBatchError, type BatchJobScheduleSpec } from '../src/batch/client.js';
import { addJobOnce, addJobScheduleOnce, jobSpec, META_SUBMISSION, newSubmissionId } from '../src/batch/submit.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';

describe('adding a job or schedule whose answer was lost', () => {
  let batch: BatchStandIn;
  let proxy: FaultProxy;
  let client: BatchClient;
  /** Whether the next add loses its answer (only its first attempt: the replay goes through). */
  let armed = false;

  before(async () => {
    // No nodes: only the REST surface is exercised.
    batch = await startBatchStandIn({ nodes: 0 });
    proxy = await startFaultProxy({
      target: batch.url,
      seed: 1,
      // The service creates the job, then the connection drops before the client hears 201.
      faults: { resetAfter: 1 },
      applies: (req) => {
        if (!armed || req.method !== 'POST' || !/^\/(jobs|jobschedules)$/.test(req.url?.split('?')[0] ?? '')) return false;
        armed = false;
        return true;
      },
    });
    client = new BatchClient(proxy.url, new BatchSharedKeyCredential(batch.accountName, batch.accountKey), {
      retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    });
  });

  after(async () => {
    await proxy?.stop();
    await batch?.stop();
  });

  const loseNextAnswer = () => {
    armed = true;
  };

  const spec = (id: string, submissionId: string) =>
    jobSpec({ jobId: id, poolId: batch.poolId, bundleUrl: 'http://127.0.0.1/unused.tar.gz', bundleSha256: 'ab'.repeat(32), jobFolder: 'http://127.0.0.1/folder', submissionId });

  it('ends with one job and no error when the first POST /jobs succeeded but its answer was lost', async () => {
    loseNextAnswer();
    const before = proxy.counts.resetAfter;
    await addJobOnce(client, spec('replayed', newSubmissionId()));
    assert.equal(proxy.counts.resetAfter - before, 1, 'the first answer was lost');
    const adds = batch.calls.filter((c) => c.operation === 'addjob' && c.path === '/jobs');
    assert.deepEqual(adds.map((c) => c.status), [201, 409], 'the service made the job, then answered the replay with 409');
    const jobs = [];
    for await (const j of client.listJobs()) jobs.push(j.id);
    assert.deepEqual(jobs, ['replayed']);
  });

  it('does not take over a job with the same id that another submission made', async () => {
    await addJobOnce(client, spec('taken', newSubmissionId()));
    const err = await addJobOnce(client, spec('taken', newSubmissionId())).then(() => undefined, (e: unknown) => e);
    assert.ok(isBatchError(err, 'JobExists'), String(err));
  });

  it('ends with one schedule and no error when the first POST /jobschedules succeeded but its answer was lost', async () => {
    loseNextAnswer();
    const submission = newSubmissionId();
    const schedule: BatchJobScheduleSpec = {
      id: 'replayed-schedule',
      // A day ahead: nothing runs during the test.
      schedule: { recurrenceInterval: 'PT1H', doNotRunUntil: new Date(Date.now() + 86_400_000).toISOString() },
      jobSpecification: { poolInfo: { poolId: batch.poolId } },
      metadata: [{ name: META_SUBMISSION, value: submission }],
    };
    await addJobScheduleOnce(client, schedule);
    const adds = batch.calls.filter((c) => c.operation === 'addjobschedule');
    assert.deepEqual(adds.map((c) => c.status), [201, 409]);
    const ids = [];
    for await (const s of client.listJobSchedules()) ids.push(s.id);
    assert.deepEqual(ids, ['replayed-schedule']);
    // Another submission with the same name is told the schedule exists.
    const other = { ...schedule, metadata: [{ name: META_SUBMISSION, value: newSubmissionId() }] };
    const err = await addJobScheduleOnce(client, other).then(() => undefined, (e: unknown) => e);
    assert.ok(isBatchError(err, 'JobScheduleExists'), String(err));
  });
});
