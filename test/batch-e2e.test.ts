// End to end on the loopback Batch stand-in and Azurite: plan, ship, submit, watch, report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report, Summary } from '../src/interfaces.js';
import { openStore } from '../src/store/index.js';
import { batchExitCode, convertOnBatch, type BatchConvertOptions } from '../src/batch/engine.js';
import { BUNDLE_SCRIPT } from '../src/batch/bundle.js';
import { repoPath, testBundle, TEST_IDENTITY, uploadImages, useBatchStandIn } from './batch-e2e-setup.js';
import { startEmailStandin } from './acs-email-standin/server.js';
import { jsonFrom, outputOf, type CliRun } from './harness/cli.js';

const IDENTITY = TEST_IDENTITY;

const e2e = useBatchStandIn('e2e');
let firstJob = '';

async function run(container: string, extra: Partial<BatchConvertOptions> = {}) {
  return convertOnBatch({
    source: `${e2e.azurite.blobEndpoint}/${container}-in`,
    destination: `${e2e.azurite.blobEndpoint}/${container}-out`,
    pool: e2e.batch.poolId,
    client: e2e.client,
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
  await uploadImages(`${e2e.azurite.blobEndpoint}/five-in`, 500);
  const result = await run('five');
  firstJob = result.jobId;
  assert.equal(result.finished, true);
  assert.deepEqual(result.summary.counts, { total: 500, converted: 500, skipped: 0, failed: 0 });
  assert.equal(batchExitCode(result), 0);
  assert.ok(result.tasks >= 2, 'the work is cut into several tasks');
  assertEachOnce(result.report!, imageNames(500));
  assert.deepEqual(new Set(result.report!.images.map((r) => r.node)).size, 2, 'both nodes worked');

  const out = await openStore(`${e2e.azurite.blobEndpoint}/five-out`, 'source');
  const pngs: string[] = [];
  for await (const e of out.list()) if (e.name.endsWith('.png') && !e.name.startsWith('.pixbatch/')) pngs.push(e.name);
  assert.equal(pngs.length, 500);
  const merged = JSON.parse((await out.read(`.pixbatch/jobs/${result.jobId}/report.json`)).toString()) as Report;
  assert.deepEqual(merged.counts, result.summary.counts);
  assert.equal(merged.jobId, result.jobId);
  // Node time is what the tasks ran; priced for the stand-in pool's VM size (all dedicated).
  assert.ok(merged.cost && merged.cost.nodeSeconds! > 0, `cost in the report: ${JSON.stringify(merged.cost)}`);
  assert.ok(merged.cost!.total! > 0 && merged.cost!.notes!.some((n) => /standard_d2s_v3 tasks \(0% spot\)/i.test(n)), JSON.stringify(merged.cost));
  assert.deepEqual(result.summary.cost, merged.cost);
  assert.match((await out.read(`.pixbatch/jobs/${result.jobId}/report.html`)).toString(), /<html/i);
  await out.close?.();
});

test('the bundle deploy built is the one the nodes unpack and run', async () => {
  // The job above ran; its preparation task fetched the bundle with the pool's identity and unpacked it.
  const bundle = await testBundle();
  assert.ok(firstJob, 'runs after the 500-image job');
  const job = await e2e.client.getJob(firstJob);
  const rf = job.jobPreparationTask!.resourceFiles![0]!;
  assert.equal(rf.identityReference?.resourceId, IDENTITY.resourceId);
  assert.equal(rf.httpUrl, `${e2e.azurite.blobEndpoint}/scripts/pixbatch/pixbatch-${bundle.version}-linux-x64.tar.gz`);
  const expected = createHash('sha256').update(execFileSync('tar', ['-xzOf', bundle.file, BUNDLE_SCRIPT], { maxBuffer: 64 * 1024 * 1024 })).digest('hex');
  for (const node of ['node1', 'node2']) {
    const script = join(e2e.dir, 'batch', 'nodes', node, 'shared', `pixbatch-${bundle.sha256.slice(0, 16)}`, BUNDLE_SCRIPT);
    assert.equal(createHash('sha256').update(await readFile(script)).digest('hex'), expected, `${node} runs the deployed script`);
  }
  const tasks = [];
  for await (const t of e2e.client.listTasks(job.id, { select: 'id,commandLine,environmentSettings' })) tasks.push(t);
  assert.ok(tasks.every((t) => t.commandLine.includes(`pixbatch-${bundle.sha256.slice(0, 16)}/${BUNDLE_SCRIPT}`)));
  assert.ok(tasks.every((t) => t.environmentSettings?.some((e) => e.name === 'AZURE_CLIENT_ID' && e.value === IDENTITY.clientId)));
  assert.ok(tasks.every((t) => !/AccountKey|sig=/.test(t.commandLine)), 'no secret on any command line');
});

test('a node pre-empted mid-task: nothing lost, no image counted twice', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/pre-in`, 300);
  const jobId = 'pixbatch-preempt';
  const running = run('pre', { shardSize: 150, jobId });
  // Pre-empt the node once its task has written some outputs but not all.
  const { nodeId, taskId } = await e2e.batch.waitForRunningTask(jobId);
  const out = await openStore(`${e2e.azurite.blobEndpoint}/pre-out`, 'source');
  for (let n = 0; n < 5; ) {
    n = 0;
    for await (const e of out.list({ prefix: 'img/' })) if (e.name.endsWith('.png')) n++;
    if (n < 5) await new Promise((r) => setTimeout(r, 10));
  }
  await e2e.batch.preempt(nodeId);
  const result = await running;
  assert.deepEqual(result.summary.counts, { total: 300, converted: 300, skipped: 0, failed: 0 });
  assertEachOnce(result.report!, imageNames(300));
  const task = await e2e.client.getTask(jobId, taskId);
  assert.ok((task.executionInfo?.requeueCount ?? 0) >= 1, 'the pre-empted task was queued again');
  assert.equal(batchExitCode(result), 0);
  await out.close?.();
});

/** Runs the pixbatch CLI as a user would, against the stand-in and Azurite. */
function cli(
  args: string[],
  onStderr?: (text: string, child: ChildProcess) => void,
  extraEnv: Record<string, string> = {},
): Promise<CliRun> {
  const env = {
    ...process.env,
    ...extraEnv,
    ...e2e.cliEnv,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', repoPath('src', 'cli', 'main.ts'), ...args], { env, cwd: repoPath(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    onStderr?.(stderr, child);
  });
  return outputOf(child);
}

test('a task that fails is reported with its stderr tail and the command exits non-zero', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/fail-in`, 20);
  e2e.batch.failNextTask({ taskId: 'shard-00001', exitCode: 3, stderr: 'pixbatch worker: storage refused the credential\n', times: 2 });
  const mail = await startEmailStandin();
  const r = await cli(
    [
      'convert', `${e2e.azurite.blobEndpoint}/fail-in`, `${e2e.azurite.blobEndpoint}/fail-out`,
      '--pool', e2e.batch.poolId, '--shard-size', '10', '--max-task-retries', '1', '--poll-interval', '0.2', '--json', '-c', '1',
      '--notify', 'mailto:ops@example.com',
    ],
    undefined,
    { COMMUNICATION_SERVICES_CONNECTION_STRING: mail.connectionString, PIXBATCH_EMAIL_SENDER: 'DoNotReply@x.azurecomm.net', NODE_EXTRA_CA_CERTS: mail.certPath },
  ).finally(() => mail.close());
  assert.equal(r.code, 3, r.stderr);
  // The submitting process mails the merged summary: the job failed, which tasks' images, and where the report is.
  assert.equal(mail.sends.length, 1, r.stderr);
  const sent = mail.sends[0]!.body.content;
  const jobId = /job (\S+): report/.exec(r.stderr)?.[1] ?? (jsonFrom(r) as Summary).jobId!;
  assert.equal(sent.subject, `pixbatch job ${jobId} failed: 10 converted, 0 skipped, 10 failed`);
  assert.match(sent.plainText, /TASK_FAILED task shard-00001 failed with exit code 3/);
  assert.ok(sent.plainText.includes(`pixbatch batch report ${jobId}`), sent.plainText);
  assert.match(r.stderr, /task shard-00001 failed with exit code 3/);
  assert.match(r.stderr, /\| pixbatch worker: storage refused the credential/);
  const summary = jsonFrom(r) as Summary;
  assert.deepEqual(summary.counts, { total: 20, converted: 10, skipped: 0, failed: 10 });
  assert.ok(summary.failures.every((f) => f.code === 'TASK_FAILED' && /shard-00001 failed with exit code 3/.test(f.message)));
});

test('--no-wait returns once the job is submitted, and batch status --wait re-attaches to the same summary', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/later-in`, 30);
  const submitted = await cli([
    'convert', `${e2e.azurite.blobEndpoint}/later-in`, `${e2e.azurite.blobEndpoint}/later-out`,
    '--pool', e2e.batch.poolId, '--shard-size', '10', '--no-wait', '--job-id', 'pixbatch-later', '-c', '1',
  ]);
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.match(submitted.stderr, /pixbatch batch status pixbatch-later --wait/);
  // One look while it runs: progress in images of the planned total.
  const running = await cli(['batch', 'status', 'pixbatch-later', '--json']);
  assert.equal(running.code, 0, running.stderr);
  assert.equal((jsonFrom(running, { whole: true }) as { images: { total: number } }).images.total, 30);
  // Re-attach with only the job id: the job folder comes from the Batch job's metadata.
  const attached = await cli(['batch', 'status', 'pixbatch-later', '--wait', '--json', '--poll-interval', '0.2']);
  assert.equal(attached.code, 0, attached.stderr);
  const summary = jsonFrom(attached) as Summary;
  assert.deepEqual(summary.counts, { total: 30, converted: 30, skipped: 0, failed: 0 });
  assert.equal(summary.jobId, 'pixbatch-later');

  const status = await cli(['batch', 'status', 'pixbatch-later', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const look = jsonFrom(status, { whole: true }) as { finished: boolean; images: { done: number; converted: number } };
  assert.equal(look.finished, true);
  assert.equal(look.images.converted, 30);

  // A job id already used is refused before anything is written.
  const reused = await cli(['convert', `${e2e.azurite.blobEndpoint}/later-in`, `${e2e.azurite.blobEndpoint}/later-out`, '--pool', e2e.batch.poolId, '--job-id', 'pixbatch-later']);
  assert.equal(reused.code, 2, reused.stderr);
  assert.match(reused.stderr, /Job pixbatch-later already exists/);

  // From the destination alone, once the Batch job itself is gone.
  await e2e.client.deleteJob('pixbatch-later');
  const report = await cli(['batch', 'report', 'pixbatch-later', '--destination', `${e2e.azurite.blobEndpoint}/later-out`, '--json']);
  assert.equal(report.code, 0, report.stderr);
  assert.deepEqual((jsonFrom(report) as Summary).counts, summary.counts);
});

test('Ctrl-C while watching detaches, says how to re-attach, and the job goes on', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/detach-in`, 20);
  let sent = false;
  const r = await cli(
    ['convert', `${e2e.azurite.blobEndpoint}/detach-in`, `${e2e.azurite.blobEndpoint}/detach-out`, '--pool', e2e.batch.poolId, '--shard-size', '5', '--job-id', 'pixbatch-detach', '--poll-interval', '0.2', '-c', '1'],
    (text, child) => {
      if (!sent && /Submitted job pixbatch-detach/.test(text)) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  );
  assert.equal(sent, true, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Detached from job pixbatch-detach; it keeps running/);
  assert.match(r.stderr, /pixbatch batch status pixbatch-detach --wait/);
  await e2e.batch.waitForJob('pixbatch-detach');
  const job = await e2e.client.getJob('pixbatch-detach');
  assert.equal(job.executionInfo?.terminateReason, 'AllTasksComplete');
});

test('batch cancel ends a running job, and its report accounts for every image once', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/cancel-in`, 80);
  const submitted = await cli([
    'convert', `${e2e.azurite.blobEndpoint}/cancel-in`, `${e2e.azurite.blobEndpoint}/cancel-out`,
    '--pool', e2e.batch.poolId, '--shard-size', '5', '--no-wait', '--job-id', 'pixbatch-cancel', '-c', '1',
  ]);
  assert.equal(submitted.code, 0, submitted.stderr);
  const cancelled = await cli(['batch', 'cancel', 'pixbatch-cancel']);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  await e2e.batch.waitForJob('pixbatch-cancel');
  assert.match((await e2e.client.getJob('pixbatch-cancel')).executionInfo?.terminateReason ?? '', /pixbatch batch cancel/);
  const report = await cli(['batch', 'report', 'pixbatch-cancel', '--json']);
  const summary = jsonFrom(report) as Summary;
  assert.equal(summary.counts.total, 80);
  assert.equal(summary.counts.converted + summary.counts.failed, 80);
  // Whatever the cancel caught running or queued is failed, named once, and makes the exit code non-zero.
  assert.equal(report.code !== 0, summary.counts.failed > 0, report.stderr);
  assert.ok(summary.failures.every((f) => f.code === 'TASK_FAILED'));
  const merged = JSON.parse((await (await openStore(`${e2e.azurite.blobEndpoint}/cancel-out`, 'source')).read('.pixbatch/jobs/pixbatch-cancel/report.json')).toString()) as Report;
  assertEachOnce(merged, imageNames(80));
});
