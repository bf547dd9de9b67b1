#!/usr/bin/env node
// Entry point of the `pixbatch` command. libuv sizes its thread pool the first time it is used,
// and sharp converts one image per pool thread, so the pool is sized from `--concurrency`
// before anything else is loaded.
import { threadPoolSizeFor } from './thread-pool.js';

if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(threadPoolSizeFor(process.argv.slice(2)));
}
const { run } = await import('./program.js');
process.exitCode = await run(process.argv);
