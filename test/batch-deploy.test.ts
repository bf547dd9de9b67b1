import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { resolveOptions } from '../src/options.js';
import { deployBundle, META_BUNDLE_SHA256 } from '../src/batch/deploy.js';
import { BUNDLE_SCRIPT, bundleBlobName } from '../src/batch/bundle.js';
import { JobFolder, jobFolderLocation, type JobFile } from '../src/batch/job-folder.js';
import { planShards } from '../src/batch/shards.js';
import { preparationCommand, workerCommand } from '../src/batch/submit.js';
import { VERSION } from '../src/version.js';
import { runShell, storage, testBundle, uploadImages } from './batch-e2e-setup.js';
import { startOtlpReceiver } from './harness/telemetry-sinks.js';

let az: Awaited<ReturnType<typeof storage>>;
let dir: string;

before(async () => {
  az = await storage();
  dir = await mkdtemp(join(tmpdir(), 'pixbatch-deploy-'));
});
after(async () => {
  az?.restore();
  await az?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('deploy uploads the bundle once and skips an identical upload', async () => {
  const bundle = await testBundle();
  const location = `${az.blobEndpoint}/converted`;
  const first = await deployBundle({ location, bundle });
  assert.equal(first.uploaded, true);
  assert.equal(first.url, `${az.blobEndpoint}/scripts/${bundleBlobName()}`);
  const second = await deployBundle({ location, bundle });
  assert.equal(second.uploaded, false, 'the same bytes are not uploaded again');
  // Without a build at hand, submission reuses what this version already has there.
  const reused = await deployBundle({ location });
  assert.equal(reused.uploaded, false);
  assert.equal(reused.sha256, bundle.sha256);

  const scripts = await openStore(`${az.blobEndpoint}/scripts`, 'source');
  const entry = await scripts.stat(bundleBlobName());
  assert.equal(entry?.metadata?.[META_BUNDLE_SHA256], bundle.sha256);
  const data = await scripts.read(bundleBlobName());
  assert.equal(createHash('sha256').update(data).digest('hex'), bundle.sha256);
});

test('the uploaded bundle unpacks with the preparation command and its worker converts a shard from Blob Storage', async () => {
  const bundle = await testBundle();
  const src = `${az.blobEndpoint}/bundle-in`;
  const dst = `${az.blobEndpoint}/bundle-out`;
  await uploadImages(src, 3, { 'img/broken.jpg': Buffer.from('not a jpeg at all') });

  // What the node's preparation task does: the resource file lands in its working dir, then the command line runs.
  const shared = join(dir, 'shared');
  const prep = join(dir, 'prep');
  await mkdir(shared, { recursive: true });
  await mkdir(prep, { recursive: true });
  const scripts = await openStore(`${az.blobEndpoint}/scripts`, 'source');
  await writeFile(join(prep, 'pixbatch.tar.gz'), await scripts.read(bundleBlobName()));
  // A bare environment: the bundle must not lean on this machine's node_modules or PATH.
  const nodeEnv = { PATH: '/usr/bin:/bin', AZ_BATCH_NODE_SHARED_DIR: shared, HOME: dir };
  const prepared = await runShell(preparationCommand(bundle.sha256), nodeEnv, prep);
  assert.equal(prepared.code, 0, prepared.stderr);
  assert.equal(prepared.stdout.trim(), VERSION);
  const again = await runShell(preparationCommand(bundle.sha256), nodeEnv, prep);
  assert.equal(again.code, 0, 'a second job on the same node reuses the unpacked bundle');

  const options = resolveOptions({});
  const folderUrl = jobFolderLocation(dst, 'job-deploy');
  const folder = await JobFolder.open(folderUrl);
  const source = await openStore(src, 'source');
  const destination = await openStore(dst, 'destination');
  await destination.prepare?.('destination');
  const planned = await planShards({ source, destination, folder, options, shardSize: 10, roundRobin: false, pool: { nodes: 1, cores: 2, slotsPerNode: 1 } });
  const job: JobFile = {
    jobId: 'job-deploy',
    tool: { name: 'pixbatch', version: VERSION },
    createdAt: new Date().toISOString(),
    source: src,
    destination: dst,
    jobFolder: folderUrl,
    spec: options.spec,
    options: { include: options.include, exclude: options.exclude, overwrite: options.overwrite, maxPixels: options.maxPixels },
    shards: { count: planned.shardItems.length, size: planned.size, items: planned.shardItems },
    planned: planned.planned,
  };
  await folder.writeJob(job);

  const work = join(dir, 'task');
  await mkdir(work, { recursive: true });
  const taskEnv = { ...nodeEnv, AZ_BATCH_TASK_ID: 'shard-00000', AZ_BATCH_NODE_ID: 'node-0', AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
  // Telemetry on (OTLP's default protocol): the export thread starts from its entry and chunks next to the script.
  const names = execFileSync('tar', ['-tzf', bundle.file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');
  const app = dirname(BUNDLE_SCRIPT);
  assert.ok(names.includes(`${app}/export-worker.bundle.js`), 'the export thread\'s entry is next to the script');
  assert.ok(names.some((n) => n.startsWith(`${app}/export-worker-chunk-`)), 'and its chunks');
  const otlp = await startOtlpReceiver();
  const ran = await runShell(workerCommand(bundle.sha256, folderUrl, 0), { ...taskEnv, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint }, work).finally(() => otlp.stop());
  assert.equal(ran.code, 0, `a bad image is a result, not a task failure: ${ran.stderr}`);
  assert.ok(otlp.requests.some((q) => q.path === '/v1/traces'), `the task's spans were sent; stderr: ${ran.stderr}`);
  const results = await folder.readResults('results/00000.jsonl');
  assert.deepEqual(results?.map((r) => r.status).sort(), ['converted', 'converted', 'converted', 'failed']);
  assert.equal(results?.find((r) => r.status === 'failed')?.code, 'NOT_AN_IMAGE');
  assert.equal(results?.[0]?.task, 'shard-00000');
  assert.equal(results?.[0]?.node, 'node-0');
  assert.ok(await destination.stat('img/00001.png'));

  // Credentials refused: the task fails (non-zero) so Batch retries it.
  const badKey = az.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from('wrong key').toString('base64')}`);
  const refused = await runShell(workerCommand(bundle.sha256, folderUrl, 0), { ...taskEnv, AZURE_STORAGE_CONNECTION_STRING: badKey }, work);
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /pixbatch worker: /);
  await Promise.all([source.close?.(), destination.close?.(), folder.close(), scripts.close?.()]);
  assert.ok((await readFile(join(shared, `pixbatch-${bundle.sha256.slice(0, 16)}`, 'package.json'), 'utf8')).includes(VERSION));
});
