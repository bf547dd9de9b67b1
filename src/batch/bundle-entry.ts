#!/usr/bin/env node
// Entry of the Batch bundle. A task runs `worker` once per shard, often hundreds of times per node, so
// that path loads only what it needs; everything else goes through the full CLI.
import { threadPoolSizeFor } from '../cli/thread-pool.js';
import { tuneAllocator } from '../convert/pixpng.js';
import { capYoungGeneration } from '../young-generation.js';
import { prestartTelemetry } from '../telemetry/index.js';

const args = process.argv.slice(2);
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(threadPoolSizeFor(args));
tuneAllocator();
capYoungGeneration();
if (args[0] === 'worker') {
  await prestartTelemetry();
  const { runWorkerCli } = await import('./worker-cli.js');
  process.exitCode = await runWorkerCli(args.slice(1));
} else {
  await import('../cli/main.js');
}
