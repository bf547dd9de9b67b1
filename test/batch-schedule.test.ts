// Job schedules end to end on the Batch stand-in: `pixbatch batch schedule create|list|delete`, jobs
// made at each recurrence whose manager task plans on a node with the real bundle, signing in to Batch
// with the pool's managed identity (through a loopback token endpoint), and re-runs that convert only what is new.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchClient, BatchSharedKeyCredential, isBatchError, type BatchJobScheduleSpec } from '../src/batch/client.js';
import { deployBundle } from '../src/batch/deploy.js';
import { JobFolder, jobFolderLocation } from '../src/batch/job-folder.js';
import { mergeReport } from '../src/batch/merge-report.js';
import { runScheduledJob, SCHEDULE_MANAGER_TASK_ID, SCHEDULE_SETTINGS_VAR, scheduleSpec, type ScheduleSettings } from '../src/batch/schedule.js';
import { openStore } from '../src/store/index.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import { storage, testBundle, uploadImages } from './batch-e2e-setup.js';
import { jsonFrom, runPixbatch, type CliRun } from './harness/cli.js';
import { META_SOURCE_ETAG } from '../src/convert/spec.js';
import { jpegBuffer } from './harness/images.js';
import { startEmailStandin } from './acs-email-standin/server.js';
import { makeToken, startTokenEndpoint, type TokenEndpoint } from './harness/token-endpoint.js';

/** Runs `pixbatch batch ARGS…` as a user would, with the Batch account and storage from the environment. */
function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return runPixbatch(['batch', ...args], { env });
}

const IDENTITY = '/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch';
const CLIENT_ID = '00000000-0000-0000-0000-0000000000c1';

async function outputsIn(location: string): Promise<string[]> {
  const store = await openStore(location, 'source');
  const names: string[] = [];
  for await (const e of store.list()) if (!e.name.startsWith('.pixbatch/')) names.push(e.name);
  await store.close?.();
  return names.sort();
}

describe('Batch job schedules on the stand-in', () => {
  let az: Awaited<ReturnType<typeof storage>>;
  let batch: BatchStandIn;
  let idp: TokenEndpoint;
  let client: BatchClient;
  let account: Record<string, string>;
  let src: string;
  let dst: string;

  before(async () => {
    az = await storage();
    const bundle = await testBundle();
    src = `${az.blobEndpoint}/images`;
    dst = `${az.blobEndpoint}/converted`;
    await uploadImages(src, 4);
    // What `pixbatch batch deploy` does; schedule create then finds this version's bundle in place.
    await deployBundle({ location: dst, bundle });
    // The nodes' managed identity endpoint (IMDS), knowing only the pool's identity.
    idp = await startTokenEndpoint({ clientIds: [CLIENT_ID] });
    batch = await startBatchStandIn({
      nodes: 2,
      tls: true,
      // The pool's identity holds a Batch role on the account; the manager task signs in as it.
      identities: [CLIENT_ID],
      storageConnectionString: az.connectionString,
      // The nodes reach Azurite with the account key (in production: their managed identity too).
      taskEnvironment: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString, AZURE_POD_IDENTITY_AUTHORITY_HOST: idp.url },
      // PT1H passes in under two seconds.
      timeScale: 2400,
      // Nodes fetch the bundle with the pool's identity, as in production.
      pool: { identity: { type: 'UserAssigned', userAssignedIdentities: [{ resourceId: IDENTITY, clientId: CLIENT_ID }] } },
    });
    client = new BatchClient(batch.httpUrl, new BatchSharedKeyCredential(batch.accountName, batch.accountKey));
    account = { AZURE_BATCH_ENDPOINT: batch.httpUrl, AZURE_BATCH_ACCOUNT: batch.accountName, AZURE_BATCH_ACCESS_KEY: batch.accountKey, AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
  });

  after(async () => {
    await batch?.stop();
    await idp?.stop();
    az?.restore();
    await az?.stop();
  });

  it('builds a schedule whose jobs prepare the bundle, plan in a manager task signed in as the pool identity, and end themselves', () => {
    const settings: ScheduleSettings = {
      scheduleId: 'nightly',
      source: 'https://acct.blob.core.windows.net/images',
      destination: 'https://acct.blob.core.windows.net/converted',
      conversion: { to: 'webp', quality: '80' },
      shardSize: 'auto',
      roundRobin: false,
      pool: { id: 'pool1', shape: { nodes: 2, cores: 2, slotsPerNode: 1 } },
      maxTaskRetryCount: 3,
      maxWallClockTime: 'PT1H',
      identityResourceId: '/subscriptions/x/identities/pixbatch',
      identityClientId: 'client-id-1',
      bundle: { url: 'https://acct.blob.core.windows.net/scripts/pixbatch/b.tar.gz', sha256: 'ab'.repeat(32), version: '0.1.0' },
    };
    const spec: BatchJobScheduleSpec = scheduleSpec(settings, { every: 'P1D', startAt: '2030-01-01T02:00:00.000Z' });
    assert.deepEqual(spec.schedule, { recurrenceInterval: 'P1D', doNotRunUntil: '2030-01-01T02:00:00.000Z' });
    const job = spec.jobSpecification;
    assert.equal(job.poolInfo.poolId, 'pool1');
    assert.equal(job.onAllTasksComplete, 'terminatejob');
    assert.equal(job.jobPreparationTask?.resourceFiles?.[0]?.identityReference?.resourceId, settings.identityResourceId);
    const manager = job.jobManagerTask!;
    assert.equal(manager.id, SCHEDULE_MANAGER_TASK_ID);
    assert.equal(manager.killJobOnCompletion, false, 'the job outlives its planning');
    assert.ok(!('authenticationTokenSettings' in manager), 'task authentication tokens were retired in September 2024');
    // One user for the preparation task, the manager and the shards' tasks, so all can run what preparation unpacked.
    const user = { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } };
    assert.deepEqual(manager.userIdentity, user);
    assert.deepEqual(job.jobPreparationTask?.userIdentity, user);
    assert.doesNotMatch(job.jobPreparationTask!.commandLine, /[\r\n]/, 'the preparation command line is one line');
    assert.match(job.jobPreparationTask!.commandLine, /tar -xzf pixbatch\.tar\.gz /, 'the archive is found relative to the working directory');
    assert.match(manager.commandLine, /batch schedule run-job/);
    assert.doesNotMatch(JSON.stringify(spec), /AccountKey|sig=/, 'no secret in the schedule');
    assert.ok(manager.environmentSettings?.some((e) => e.name === 'AZURE_CLIENT_ID' && e.value === 'client-id-1'));
  });

  it('re-runs the conversion at each recurrence, converting only the images that are new', { timeout: 180_000 }, async () => {
    const created = await cli(['schedule', 'create', 'hourly', src, dst, '--pool', batch.poolId, '--every', 'PT1H', '--shard-size', '2'], account);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /schedule hourly: .* every PT1H, first run now/);

    // The first job converts the four images there are.
    await batch.waitForJob('hourly:job-1');
    assert.equal((await outputsIn(dst)).length, 4);
    const first = await client.getTask('hourly:job-1', SCHEDULE_MANAGER_TASK_ID);
    assert.equal(first.executionInfo?.result, 'success', await client.getTaskFile('hourly:job-1', SCHEDULE_MANAGER_TASK_ID, 'stderr.txt').catch(() => ''));
    // The manager task asked the node's identity endpoint for a Batch token for the pool's identity.
    const asked = idp.requests.filter((q) => q.query.client_id === CLIENT_ID && /batch\.core\.windows\.net/.test(q.query.resource ?? ''));
    assert.ok(asked.length >= 1, 'the manager task signed in to Batch with the managed identity');
    const job1 = await client.getJob('hourly:job-1');
    const folder1 = job1.metadata?.find((m) => m.name === 'pixbatch-job-folder')?.value;
    assert.equal(folder1, jobFolderLocation(dst, 'hourly:job-1'), 'the job names its folder, as convert --pool jobs do');

    // Three new images arrive; later runs convert those and nothing else.
    const images = await openStore(src, 'destination');
    for (const i of [4, 5, 6]) await images.write(`img/0000${i}.jpg`, await jpegBuffer(40, 30, 100 + i), { contentType: 'image/jpeg' });
    await images.close?.();
    const started = batch.calls.length;
    await waitFor(async () => (await outputsIn(dst)).length === 7);
    // A later run has planned, and has written the report of the run before it, which nobody watched.
    const written = await openStore(jobFolderLocation(dst, 'hourly:job-1'), 'source');
    assert.ok(await written.stat('report.json'), 'job-1 has its report.json');
    await written.close?.();
    const jobs = await cli(['schedule', 'list', '--jobs', '--json'], account);
    const listed = jsonFrom(jobs, { whole: true }) as Array<{ id: string; jobs: Array<{ id: string; state: string }> }>;
    const hourly = listed.find((s) => s.id === 'hourly')!;
    assert.ok(hourly.jobs.length >= 2);
    // Every image was converted exactly once over all the runs: re-runs skip what is up to date.
    let converted = 0;
    const seen = new Map<string, number>();
    for (const j of hourly.jobs) {
      await batch.waitForJob(j.id);
      const folder = await JobFolder.open(jobFolderLocation(dst, j.id));
      const jobFile = await folder.readJob();
      const report = await mergeReport({ folder, job: jobFile });
      await folder.close();
      for (const r of report.images.filter((x) => x.status === 'converted')) seen.set(r.name, (seen.get(r.name) ?? 0) + 1);
      converted += report.counts.converted;
      assert.equal(report.counts.failed, 0, j.id);
    }
    assert.equal(converted, 7);
    assert.deepEqual([...seen.values()], [1, 1, 1, 1, 1, 1, 1]);
    const outStore = await openStore(dst, 'source');
    const meta = await outStore.stat('img/00006.png');
    assert.ok(meta?.metadata?.[META_SOURCE_ETAG], 'outputs carry the source version they came from');
    await outStore.close?.();
    assert.ok(batch.calls.slice(started).some((c) => c.operation === 'addtaskcollection'), 'a later run added tasks');

    // The engine's report command finds a scheduled job's folder from the job, as for convert --pool.
    const report = await cli(['report', 'hourly:job-1', '--json', '--quiet'], account);
    assert.equal(report.code, 0, report.stderr);
    assert.equal(jsonFrom(report, { whole: true }).counts.converted, 4);

    const text = await cli(['schedule', 'list'], account);
    assert.match(text.stdout, /^hourly {2}active {2}every PT1H/m);
  });

  it('refuses a second schedule with the same name, and a recurrence that is not a duration, in one line', async () => {
    const dup = await cli(['schedule', 'create', 'hourly', src, dst, '--pool', batch.poolId], account);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /already exists.*batch schedule delete hourly/);
    const bad = await cli(['schedule', 'create', 'other', src, dst, '--pool', batch.poolId, '--every', 'sometimes'], account);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ISO 8601 duration.*every/);
    // Batch's shortest recurrence is one minute; 0 would have become PT0M.
    for (const every of ['0', 'PT30S']) {
      const short = await cli(['schedule', 'create', 'other', src, dst, '--pool', batch.poolId, '--every', every], account);
      assert.equal(short.code, 2, every);
      assert.match(short.stderr, /at least one minute.*every.*received/);
      assert.equal(short.stderr.trim().split('\n').length, 1, short.stderr);
    }
  });

  it('refuses task authentication tokens as the service now does, and tokens of an identity without a role', async () => {
    const settings = JSON.parse(JSON.stringify(scheduleSpec(
      {
        scheduleId: 'retired', source: src, destination: dst, conversion: {}, shardSize: 'auto', roundRobin: false,
        pool: { id: batch.poolId, shape: { nodes: 1, cores: 2, slotsPerNode: 1 } }, maxTaskRetryCount: 0, maxWallClockTime: 'PT1H',
        identityResourceId: IDENTITY, identityClientId: CLIENT_ID,
        bundle: { url: `${dst}/unused.tar.gz`, sha256: 'ef'.repeat(32), version: '0.1.0' },
      },
      { every: 'PT1H', startAt: new Date(Date.now() + 86_400_000).toISOString() },
    ))) as BatchJobScheduleSpec & { jobSpecification: { jobManagerTask: Record<string, unknown> } };
    settings.jobSpecification.jobManagerTask.authenticationTokenSettings = { access: ['job'] };
    const err = await client.addJobSchedule(settings).then(() => undefined, (e: unknown) => e);
    assert.ok(isBatchError(err, 'InvalidPropertyValue'), String(err));
    assert.match(err.serviceMessage, /^Property authenticationTokenSettings is not enabled for current account/);

    // A well-formed Batch token, but for an identity that holds no role on the account.
    const stranger = new BatchClient(batch.url, { getToken: async () => ({ token: makeToken('https://batch.core.windows.net/', 'someone-else'), expiresOnTimestamp: Date.now() + 3_600_000 }) }, { tlsCa: batch.tlsCa });
    const denied = await stranger.getJobSchedule('hourly').then(() => undefined, (e: unknown) => e);
    assert.ok(isBatchError(denied, 'AuthorizationFailure'), String(denied));
  });

  it('keeps the first plan when the manager task is retried, adding only the tasks still missing', async () => {
    const jobId = 'retried-manager';
    // A pool with no nodes here: nothing runs, only the manager's work is looked at.
    await client.addJob({ id: jobId, poolInfo: { poolId: 'elsewhere' }, onAllTasksComplete: 'noaction' });
    const settings: ScheduleSettings = {
      scheduleId: 'retry',
      source: src,
      destination: `${az.blobEndpoint}/retried`,
      conversion: {},
      shardSize: 3,
      roundRobin: false,
      pool: { id: 'elsewhere', shape: { nodes: 1, cores: 2, slotsPerNode: 1 } },
      maxTaskRetryCount: 1,
      maxWallClockTime: 'PT10M',
      bundle: { url: 'http://unused', sha256: 'cd'.repeat(32), version: '0.1.0' },
    };
    const env = { AZ_BATCH_JOB_ID: jobId, AZ_BATCH_ACCOUNT_URL: batch.httpUrl, [SCHEDULE_SETTINGS_VAR]: JSON.stringify(settings) };
    const first = await runScheduledJob(env, { client });
    assert.equal(first.tasks, 3, '7 images in shards of 3');
    const images = await openStore(src, 'destination');
    await images.write('img/late.jpg', await jpegBuffer(40, 30, 999), { contentType: 'image/jpeg' });
    await images.close?.();
    const again = await runScheduledJob(env, { client });
    assert.deepEqual(again, first, 'the same plan, not a new one with the late image');
    const tasks = [];
    for await (const t of client.listTasks(jobId, { select: 'id' })) tasks.push(t.id);
    assert.deepEqual(tasks, ['shard-00000', 'shard-00001', 'shard-00002']);
    const job = await client.getJob(jobId);
    assert.equal(job.metadata?.find((m) => m.name === 'pixbatch-job-folder')?.value, jobFolderLocation(settings.destination, jobId));
  });

  it('mails the report of a run with nothing new to its notify targets, with the sender and endpoint the schedule carries', async () => {
    const mail = await startEmailStandin({ senders: ['reports@pixbatch.example'] });
    try {
      const jobId = 'mailed-run';
      await client.addJob({ id: jobId, poolInfo: { poolId: 'elsewhere' }, onAllTasksComplete: 'noaction' });
      const settings: ScheduleSettings = {
        scheduleId: 'mailed',
        source: `${src}/nothing-here/`,
        destination: `${az.blobEndpoint}/mailed`,
        conversion: {},
        shardSize: 'auto',
        roundRobin: false,
        pool: { id: 'elsewhere', shape: { nodes: 1, cores: 2, slotsPerNode: 1 } },
        maxTaskRetryCount: 1,
        maxWallClockTime: 'PT10M',
        bundle: { url: 'http://unused', sha256: 'ef'.repeat(32), version: '0.1.0' },
        notify: { to: ['mailto:night@example.com'], email: { endpoint: mail.endpoint, sender: 'reports@pixbatch.example' } },
      };
      const env = { AZ_BATCH_JOB_ID: jobId, AZ_BATCH_ACCOUNT_URL: batch.httpUrl, [SCHEDULE_SETTINGS_VAR]: JSON.stringify(settings) };
      // On a node the pool's identity signs in; here the stand-in's access key and certificate stand for it.
      const run = await runScheduledJob(env, { client, email: { connectionString: mail.connectionString, tlsCa: mail.ca } });
      assert.equal(run.tasks, 0);
      assert.equal(mail.sends.length, 1);
      const { body } = mail.sends[0]!;
      assert.equal(body.senderAddress, 'reports@pixbatch.example');
      assert.deepEqual(body.recipients.to, [{ address: 'night@example.com' }]);
      assert.equal(body.content.subject, 'pixbatch job mailed-run finished: 0 converted, 0 skipped, 0 failed');
      assert.ok(body.content.plainText.includes(`${jobFolderLocation(settings.destination, jobId)}/report.json`));
      assert.ok(body.content.plainText.includes('pixbatch batch report mailed-run'));
    } finally {
      await mail.close();
    }
  });

  it('deletes a schedule and the jobs it made', { timeout: 60_000 }, async () => {
    const r = await cli(['schedule', 'delete', 'hourly'], account);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => {
      for await (const _ of client.listJobSchedules()) return false;
      return true;
    });
    let jobs = 0;
    for await (const j of client.listJobs()) if (j.id.startsWith('hourly:')) jobs++;
    assert.equal(jobs, 0);
    const again = await cli(['schedule', 'delete', 'hourly'], account);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no schedule named hourly/);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}
