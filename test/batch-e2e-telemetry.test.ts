// Telemetry from Batch tasks, end to end: `convert --pool` on the loopback Batch stand-in, with the
// OTLP endpoint in the config file. The tasks are real worker processes that know only what their
// task environment settings tell them, so a span arrives only if the setting was carried to them and
// the worker sent it before its process ended.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report, Summary } from '../src/interfaces.js';
import { openStore } from '../src/store/index.js';
import { repoPath, TEST_CACHE_DIR, uploadImages, useBatchStandIn } from './batch-e2e-setup.js';
import { jsonFrom, outputOf } from './harness/cli.js';
import { otlpAttributes, otlpJsonSpans, startOtlpReceiver, type OtlpReceiver } from './harness/telemetry-sinks.js';

const e2e = useBatchStandIn('e2e-telemetry');
let otlp: OtlpReceiver;

before(async () => {
  otlp = await startOtlpReceiver();
});

after(async () => {
  await otlp?.stop();
});

test('convert --pool sends one batch-task span per task, named by job, task and node, whose counts add up to the merged report', async () => {
  await uploadImages(`${e2e.azurite.blobEndpoint}/tel-in`, 12, { 'img/broken.jpg': Buffer.from('not a picture') });
  const config = join(e2e.dir, 'pixbatch.config.json');
  await writeFile(config, JSON.stringify({ telemetry: { otlpEndpoint: otlp.endpoint, otlpProtocol: 'http/json' } }));
  const env = {
    ...process.env,
    APPLICATIONINSIGHTS_CONNECTION_STRING: '',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_PROTOCOL: '',
    OTEL_TRACES_SAMPLER: '',
    OTEL_TRACES_SAMPLER_ARG: '',
    // A secret the submitter has: it must not reach the tasks.
    OTEL_EXPORTER_OTLP_HEADERS: 'api-key=submitter-secret',
    PIXBATCH_CACHE_DIR: TEST_CACHE_DIR,
    ...e2e.cliEnv,
  };
  const args = [
    'convert', `${e2e.azurite.blobEndpoint}/tel-in`, `${e2e.azurite.blobEndpoint}/tel-out`,
    '--pool', e2e.batch.poolId, '--shard-size', '7', '--poll-interval', '0.2', '-c', '1', '--json', '--config', config,
  ];
  const r = await outputOf(spawn(process.execPath, ['--import', 'tsx', repoPath('src', 'cli', 'main.ts'), ...args], { env, cwd: repoPath(), stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal(r.code, 1, r.stderr);
  const summary = jsonFrom(r) as Summary;
  assert.deepEqual(summary.counts, { total: 13, converted: 12, skipped: 0, failed: 1 });
  const jobId = summary.jobId!;

  const tasks = [];
  for await (const t of e2e.client.listTasks(jobId, { select: 'id,environmentSettings' })) tasks.push(t);
  assert.equal(tasks.length, 2);
  for (const t of tasks) {
    const settings = new Map((t.environmentSettings ?? []).map((e) => [e.name, e.value]));
    assert.equal(settings.get('OTEL_EXPORTER_OTLP_ENDPOINT'), otlp.endpoint, `task ${t.id} was not given the config file's endpoint`);
    assert.equal(settings.get('OTEL_EXPORTER_OTLP_PROTOCOL'), 'http/json');
    assert.ok(!settings.has('OTEL_EXPORTER_OTLP_HEADERS'), `task ${t.id} was given the OTLP headers`);
  }

  // The command returns once the job is complete; each task sent its spans before its process ended.
  for (const q of otlp.requests) assert.ok(!JSON.stringify(q.headers).includes('submitter-secret'), 'the OTLP headers reached a node');
  const spans = otlpJsonSpans(otlp);
  const jobSpans = spans.filter((s) => s.name === 'pixbatch batch-task').map((s) => otlpAttributes(s.attributes));
  assert.equal(jobSpans.length, tasks.length, `one job span per task (got ${spans.map((s) => s.name).join(', ') || 'none'}); stderr: ${r.stderr}`);
  assert.deepEqual(jobSpans.map((a) => a['pixbatch.task.id']).sort(), tasks.map((t) => t.id).sort());

  const out = await openStore(`${e2e.azurite.blobEndpoint}/tel-out`, 'source');
  const report = JSON.parse((await out.read(`.pixbatch/jobs/${jobId}/report.json`)).toString()) as Report;
  await out.close?.();
  for (const a of jobSpans) {
    assert.equal(a['pixbatch.job.kind'], 'batch-task');
    assert.equal(a['pixbatch.job.id'], jobId);
    assert.equal(a['pixbatch.format'], 'png');
    // The node the span names is the one the report says ran this task's images.
    const nodes = new Set(report.images.filter((i) => i.task === a['pixbatch.task.id']).map((i) => i.node));
    assert.deepEqual([...nodes], [a['pixbatch.node.id']], `task ${a['pixbatch.task.id']}`);
  }
  const sum = (key: string) => jobSpans.reduce((n, a) => n + Number(a[key] ?? 0), 0);
  assert.equal(sum('pixbatch.images.converted'), summary.counts.converted);
  assert.equal(sum('pixbatch.images.failed'), summary.counts.failed);
  assert.equal(sum('pixbatch.images.total'), summary.counts.total);
  assert.equal(sum('pixbatch.bytes.in'), summary.bytesIn);
  assert.equal(sum('pixbatch.bytes.out'), summary.bytesOut);
  assert.deepEqual(report.counts, summary.counts);

  // Each image span belongs to its task's trace: twelve converted and one failed, none lost.
  const imageSpans = spans.filter((s) => s.name === 'pixbatch image').map((s) => otlpAttributes(s.attributes));
  assert.equal(imageSpans.filter((a) => a['pixbatch.status'] === 'converted').length, 12);
  assert.equal(imageSpans.filter((a) => a['pixbatch.status'] === 'failed').length, 1);
});
