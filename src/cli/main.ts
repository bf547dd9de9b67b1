#!/usr/bin/env node
// Entry point of the `pixbatch` command. libuv sizes its thread pool the first time it is used,
// and sharp converts one image per pool thread, so the pool is sized from `--concurrency`
// before anything else is loaded. The memory allocator is tuned then too, before any thread
// allocates (see tuneAllocator).
import { tuneAllocator } from '../convert/pixpng.js';
import { threadPoolSizeFor } from './thread-pool.js';

if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(threadPoolSizeFor(process.argv.slice(2)));
}
tuneAllocator();
const { run } = await import('./program.js');
process.exitCode = await run(process.argv);
