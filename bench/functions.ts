// The Functions benchmark (`npm run bench -- --only functions`): N uploads on Azurite, each delivered as
// an Event Grid BlobCreated event to the app's Event Grid function (called as the host calls it, with
// `invocations` in flight at once, as one instance runs them), against the same images through
// `convert()` blob → blob in the same run. Reports events per second and per-image latency from the
// event's arrival to its output being written.
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import functions from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../test/harness/azurite.js';
import { blobCreatedEvent } from '../test/harness/event-grid.js';
import { convert } from '../src/index.js';
import { openBlobStore } from '../src/store/blob.js';
import { onBlobCreated, resetFunctions } from '../src/functions/app.js';
import { listFiles, upload } from './blob.js';

export interface FunctionsBenchOptions {
  quick?: boolean;
  /** Uploads (default 1000, quick 60). */
  count?: number;
  /** Event Grid invocations in flight at once (default 16). */
  invocations?: number;
  root?: string;
  log?: (line: string) => void;
}

export interface FunctionsBenchResult {
  images: number;
  width: number;
  height: number;
  cores: number;
  invocations: number;
  functions: { seconds: number; eventsPerSecond: number; converted: number; failed: number; latencyMs: { p50: number; p95: number; max: number } };
  convert: { seconds: number; imagesPerSecond: number; converted: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!) : 0;
}

/**
 * @example
 * const r = await runFunctionsBench({ count: 40, log: console.log });
 */
export async function runFunctionsBench(options: FunctionsBenchOptions = {}): Promise<FunctionsBenchResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const count = options.count ?? (options.quick ? 60 : 1000);
  const invocations = options.invocations ?? 16;
  const cores = availableParallelism();
  const [width, height] = [800, 600];
  const dir = join(options.root ?? join(tmpdir(), 'pixbatch-bench'), 'functions-corpus', `${width}x${height}-${count}`);
  if (!existsSync(join(dir, '.complete'))) {
    await rm(dir, { recursive: true, force: true });
    const { generate } = await import('../src/generate/generate.js');
    await generate({ destination: dir, count, size: `${width}x${height}`, seed: 17 });
    await writeFile(join(dir, '.complete'), '');
  }
  const files = await listFiles(dir);

  const saved = { ...process.env };
  const az = await startAzurite({ memoryLimitMb: 1024 });
  try {
    const service = BlobServiceClient.fromConnectionString(az.connectionString);
    const etags = await upload(service, 'images', dir, files, 'incoming/');
    log(`Functions on Azurite: ${files.length} uploads ${width}x${height}, ${invocations} invocations in flight, ${cores} cores`);

    Object.assign(process.env, { PIXBATCH_STORAGE: az.connectionString, PIXBATCH_SOURCE: 'az://images/incoming', PIXBATCH_DESTINATION: 'az://fn-out' });
    resetFunctions();
    const latencies: number[] = [];
    let failed = 0;
    const started = performance.now();
    let queue = 0;
    await Promise.all(
      Array.from({ length: invocations }, async () => {
        while (queue < files.length) {
          const f = files[queue++]!;
          const event = blobCreatedEvent({ account: az.accountName, container: 'images', blob: `incoming/${f}`, blobEndpoint: az.blobEndpoint, eTag: etags.get(f) });
          const received = performance.now();
          const context = new functions.InvocationContext({
            functionName: 'convertBlobCreated',
            logHandler: (level, ...args) => {
              const line = args.map(String).join(' ');
              if (line.startsWith('converted ')) latencies.push(performance.now() - received);
              else if (level === 'error') failed++;
            },
          });
          await onBlobCreated(event as never, context);
        }
      }),
    );
    const fnSeconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const fn = {
      seconds: Math.round(fnSeconds * 100) / 100,
      eventsPerSecond: Math.round((files.length / fnSeconds) * 10) / 10,
      converted: latencies.length,
      failed,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: percentile(latencies, 100) },
    };
    log(`  Functions (Event Grid trigger)  ${fn.eventsPerSecond.toFixed(1).padStart(7)} events/s  (${fn.seconds} s; latency p50 ${fn.latencyMs.p50} ms, p95 ${fn.latencyMs.p95} ms)`);

    const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
    const t = performance.now();
    const summary = await convert({
      source: await openBlobStore(`${az.blobEndpoint}/images/incoming`, { env }),
      destination: await openBlobStore(`${az.blobEndpoint}/convert-out`, { env }),
    });
    const seconds = (performance.now() - t) / 1000;
    const cv = { seconds: Math.round(seconds * 100) / 100, imagesPerSecond: Math.round((summary.counts.converted / seconds) * 10) / 10, converted: summary.counts.converted };
    log(`  pixbatch convert blob → blob    ${cv.imagesPerSecond.toFixed(1).padStart(7)} images/s  (${cv.seconds} s)`);
    return { images: files.length, width, height, cores, invocations, functions: fn, convert: cv };
  } finally {
    resetFunctions();
    for (const k of ['PIXBATCH_STORAGE', 'PIXBATCH_SOURCE', 'PIXBATCH_DESTINATION']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await az.stop();
  }
}

// `node --import tsx bench/functions.ts [COUNT]` runs it alone.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const n = process.argv[2] ? Number(process.argv[2]) : undefined;
  await runFunctionsBench({ count: n });
}
