// Plan and submit a 100,000-image Batch job against the loopback stand-in: wall time, REST calls to
// the Batch service and peak memory, for pixbatch's shards beside the original's one task per node.
//
//   npm run bench -- --only batch            100,000 images
//   npm run bench -- --only batch --quick    10,000 images
//
// The stand-in's pool has no nodes, so the tasks are only queued: this measures planning and
// submission, not conversion. Images are 1-byte files in a local folder (planning never reads them):
// the listing and the up-to-date checks are the same calls a Blob Storage store makes, without
// Azurite's own cost in the figures.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveOptions } from '../src/options.js';
import { FsStore } from '../src/store/fs.js';
import { BatchClient, BatchSharedKeyCredential } from '../src/batch/client.js';
import { JobFolder } from '../src/batch/job-folder.js';
import { planShards, type PoolShape } from '../src/batch/shards.js';
import { addTasks, jobSpec, taskSpecs } from '../src/batch/submit.js';
import { startBatchStandIn } from '../test/batch-standin/index.js';

export interface BatchBenchOptions {
  quick?: boolean;
  count?: number;
  /** Scratch folder (the bench's .bench). */
  root?: string;
  log?: (line: string) => void;
}

export interface BatchBenchRow {
  design: string;
  images: number;
  tasks: number;
  planSeconds: number;
  submitSeconds: number;
  totalSeconds: number;
  restCalls: number;
  addTaskCollectionCalls: number;
  peakHeapMiB: number;
  peakRssMiB: number;
  largestTaskImages: number;
}

/** The original deployment: 10 two-core nodes, one task per node. */
const POOL: PoolShape = { nodes: 10, cores: 2, slotsPerNode: 1 };

function makeCorpus(dir: string, count: number): void {
  const marker = join(dir, `.complete-${count}`);
  if (existsSync(marker)) return;
  for (let i = 0; i < count; i++) {
    const sub = join(dir, String(Math.floor(i / 1000)).padStart(3, '0'));
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `${String(i).padStart(6, '0')}.jpg`), 'x');
  }
  writeFileSync(marker, '');
}

/** Samples memory every 20 ms while `fn` runs. */
async function withPeakMemory<T>(fn: () => Promise<T>): Promise<{ value: T; heap: number; rss: number }> {
  global.gc?.();
  let heap = 0;
  let rss = 0;
  const sample = () => {
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed);
    rss = Math.max(rss, m.rss);
  };
  sample();
  const timer = setInterval(sample, 20);
  try {
    const value = await fn();
    sample();
    return { value, heap, rss };
  } finally {
    clearInterval(timer);
  }
}

export async function runBatchBench(options: BatchBenchOptions = {}): Promise<{ rows: BatchBenchRow[]; note: string }> {
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const count = options.count ?? (options.quick ? 10_000 : 100_000);
  const root = options.root ?? join(process.cwd(), '.bench');
  const corpus = join(root, 'batch-corpus', String(count));
  log(`batch: making ${count} placeholder images (kept for the next run)…`);
  makeCorpus(corpus, count);

  const batch = await startBatchStandIn({ nodes: 0 });
  const client = new BatchClient(batch.url, new BatchSharedKeyCredential(batch.accountName, batch.accountKey));
  const rows: BatchBenchRow[] = [];
  try {
    const designs = [
      { design: 'shards (auto)', shardSize: 'auto' as const, roundRobin: false },
      { design: 'shards of 100', shardSize: 100, roundRobin: false },
      { design: 'round-robin (original)', shardSize: 'auto' as const, roundRobin: true },
    ];
    for (const { design, shardSize, roundRobin } of designs) {
      const out = join(root, 'batch-out');
      await rm(out, { recursive: true, force: true });
      const jobId = `bench-${rows.length}-${Date.now()}`;
      const callsBefore = batch.calls.length;
      const started = performance.now();
      let planned = 0;
      const measured = await withPeakMemory(async () => {
        const folder = await JobFolder.open(join(out, '.pixbatch', 'jobs', jobId));
        const plan = await planShards({
          source: new FsStore(corpus),
          destination: new FsStore(out),
          folder,
          options: resolveOptions({}),
          shardSize,
          roundRobin,
          pool: POOL,
        });
        planned = performance.now();
        const sha = '0'.repeat(64);
        const folderUrl = `https://bench.blob.core.windows.net/converted/.pixbatch/jobs/${jobId}`;
        await client.addJob(jobSpec({ jobId, poolId: batch.poolId, bundleUrl: 'https://bench.blob.core.windows.net/scripts/pixbatch.tar.gz', bundleSha256: sha, jobFolder: folderUrl }));
        const tasks = taskSpecs({ sha256: sha, jobFolder: folderUrl, shards: plan.shardItems.length, maxTaskRetryCount: 3, maxWallClockTime: 'PT1H', identityClientId: '00000000-0000-0000-0000-000000000000' });
        const added = await addTasks(client, jobId, tasks);
        await client.patchJob(jobId, { onAllTasksComplete: 'terminatejob' });
        return { plan, added };
      });
      const finished = performance.now();
      const calls = batch.calls.slice(callsBefore);
      rows.push({
        design,
        images: measured.value.plan.planned.convert,
        tasks: measured.value.plan.shardItems.length,
        planSeconds: round((planned - started) / 1000),
        submitSeconds: round((finished - planned) / 1000),
        totalSeconds: round((finished - started) / 1000),
        restCalls: calls.length,
        addTaskCollectionCalls: calls.filter((c) => c.operation === 'addtaskcollection').length,
        peakHeapMiB: round(measured.heap / 2 ** 20),
        peakRssMiB: round(measured.rss / 2 ** 20),
        largestTaskImages: Math.max(...measured.value.plan.shardItems),
      });
      await client.terminateJob(jobId).catch(() => {});
      await rm(out, { recursive: true, force: true });
    }
  } finally {
    await batch.stop();
  }
  const note =
    `Pool as the original's: ${POOL.nodes} nodes of ${POOL.cores} cores. Round-robin makes one task per node, so a slow or pre-empted node ` +
    `holds 1/${POOL.nodes} of the job; shards of a few minutes each spread the loss and the tail. Peak memory is this process's (sampled every 20 ms).`;
  log('');
  log('design                   images   tasks  plan s  submit s  REST calls  add-task calls  largest task  peak heap MiB  peak RSS MiB');
  for (const r of rows) {
    log(
      `${r.design.padEnd(24)} ${String(r.images).padStart(6)} ${String(r.tasks).padStart(7)} ${r.planSeconds.toFixed(2).padStart(7)} ${r.submitSeconds.toFixed(2).padStart(9)}` +
        ` ${String(r.restCalls).padStart(11)} ${String(r.addTaskCollectionCalls).padStart(15)} ${String(r.largestTaskImages).padStart(13)} ${r.peakHeapMiB.toFixed(0).padStart(14)} ${r.peakRssMiB.toFixed(0).padStart(13)}`,
    );
  }
  log(note);
  return { rows, note };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  runBatchBench({ quick }).catch((err: unknown) => {
    process.stderr.write(`bench batch: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
