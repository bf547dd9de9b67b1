// Child process of the blob benchmark: plans every blob of a (synthetic) container and reports how
// memory grows with the number of blobs seen. Run apart from the server so only pixbatch is measured.
//   node --import tsx bench/blob-plan-memory.ts CONTAINER_URL  (credentials from AZURE_STORAGE_CONNECTION_STRING)
import { openBlobStore } from '../src/store/blob.js';
import { plan } from '../src/plan/plan.js';
import { resolveOptions } from '../src/options.js';

const url = process.argv[2]!;
const every = Number(process.argv[3] ?? 10_000);
const store = await openBlobStore(url);
const options = resolveOptions({ overwrite: 'always' });
const samples: { blobs: number; heapUsed: number; rss: number }[] = [];
const sample = (blobs: number) => {
  const m = process.memoryUsage();
  samples.push({ blobs, heapUsed: m.heapUsed, rss: m.rss });
};
let peakRss = 0;
const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const started = performance.now();
let n = 0;
global.gc?.();
sample(0);
for await (const item of plan(store, store, options)) {
  if (item.action === 'convert') n++;
  if (n % every === 0) {
    global.gc?.();
    sample(n);
  }
}
clearInterval(timer);
process.stdout.write(`${JSON.stringify({ planned: n, seconds: (performance.now() - started) / 1000, samples, peakRss })}\n`);
