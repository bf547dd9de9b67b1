#!/usr/bin/env node
// Entry point of the `pixbatch` command. libuv sizes its thread pool the first time it is used,
// and sharp converts one image per pool thread, so the pool is sized from `--concurrency`
// before anything else is loaded. The memory allocator is tuned then too, before any thread
// allocates (see tuneAllocator), and V8's young generation is kept from growing (see
// capYoungGeneration).
import { tuneAllocator } from '../convert/pixpng.js';
import { capYoungGeneration } from '../young-generation.js';
import { threadPoolSizeFor } from './thread-pool.js';
import { prestartTelemetry, runsJobHere } from '../telemetry/index.js';

if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(threadPoolSizeFor(process.argv.slice(2)));
}
tuneAllocator();
capYoungGeneration();
// A reader that stops early (`pixbatch convert … --dry-run | head`) closes our stdout: stop quietly,
// as Unix tools do on SIGPIPE, instead of dying with an unhandled EPIPE. Outputs are only ever
// renamed into place whole, so stopping here leaves nothing half-written behind.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});
// Telemetry's SDK loads in its own thread; starting it before the CLI loads lets it use the core that
// is idle until the conversions begin.
if (runsJobHere(process.argv.slice(2))) await prestartTelemetry();
const { run } = await import('./program.js');
process.exitCode = await run(process.argv);
