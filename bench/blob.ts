// The blob benchmark (part of `npm run bench`, which calls runBlobBench): blob → blob on Azurite,
// pixbatch against the original system's worker (bench/peers/original_worker.py: Python, the
// Debian azure and Pillow packages, one process per core, each listing the container and taking
// every N-th blob, one image at a time) on the same generated images in the same run; then the
// memory pixbatch needs to plan 100,000 blobs, from a loopback server that lists a synthetic
// container (uploading 100,000 blobs to Azurite would take longer than the whole benchmark).
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../test/harness/azurite.js';
import { convert } from '../src/index.js';
import { openBlobStore } from '../src/store/blob.js';
import type { Preset } from '../src/interfaces.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const PYTHON = '/usr/bin/python3';

export interface BlobBenchOptions {
  quick?: boolean;
  /** Images in the blob → blob run (default 300, quick 60). */
  count?: number;
  /** Folder for generated images (default: a temp folder). */
  root?: string;
  /** Blobs in the planning-memory measurement (default 100,000; quick 20,000). */
  listCount?: number;
  cores?: number;
  presets?: Preset[];
  log?: (line: string) => void;
}

export interface BlobRate {
  label: string;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  failed: number;
}

export interface BlobBenchResult {
  images: number;
  width: number;
  height: number;
  cores: number;
  pixbatch: BlobRate[];
  worker?: BlobRate;
  workerSkipped?: string;
  /** pixbatch rate / worker rate, per pixbatch preset. */
  ratio?: Record<string, number>;
  planMemory?: { blobs: number; seconds: number; heapGrowthMiB: number; heapAt: { blobs: number; heapUsedMiB: number }[]; peakRssMiB: number };
}

const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

/** Uploads `files` from `dir` (16 at a time) under `prefix`; returns each file's blob etag. */
export async function upload(service: BlobServiceClient, container: string, dir: string, files: string[], prefix = ''): Promise<Map<string, string>> {
  const c = service.getContainerClient(container);
  await c.createIfNotExists();
  const etags = new Map<string, string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < files.length) {
        const f = files[next++]!;
        const data = await readFile(join(dir, f));
        etags.set(f, (await c.getBlockBlobClient(prefix + f).upload(data, data.length)).etag!);
      }
    }),
  );
  return etags;
}

/** The JPEGs under `dir`, relative with `/` separators, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const parent = e.parentPath ?? (e as unknown as { path: string }).path;
    if (e.isFile() && /\.jpe?g$/i.test(e.name)) out.push(relative(dir, join(parent, e.name)).split('\\').join('/'));
  }
  return out.sort();
}

function runWorkers(count: number, connectionString: string, input: string, output: string): Promise<{ seconds: number; converted: number; failed: number }> {
  const script = join(here, 'peers', 'original_worker.py');
  const started = performance.now();
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<{ converted: number; failed: number }>((done, fail) => {
          const child = spawn(PYTHON, [script, String(i), String(count), input, output], {
            env: { ...process.env, AZURE_STORAGE_CONNECTION_STRING: connectionString },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (err = (err + d).slice(-4000)));
          child.on('error', fail);
          child.on('exit', () => {
            try {
              const r = JSON.parse(out.trim().split('\n').pop() ?? '') as { converted: number; failed: number };
              done(r);
            } catch {
              fail(new Error(`original_worker.py task ${i} printed no result: ${err.trim().split('\n').pop()}`));
            }
          });
        }),
    ),
  ).then((rs) => ({
    seconds: (performance.now() - started) / 1000,
    converted: rs.reduce((a, r) => a + r.converted, 0),
    failed: rs.reduce((a, r) => a + r.failed, 0),
  }));
}

/** A loopback endpoint that lists `count` synthetic blobs in pages of 5000 (the List Blobs REST answer), and nothing else. */
export async function syntheticContainer(count: number): Promise<{ url: string; connectionString: string; stop(): Promise<void> }> {
  const modified = new Date('2026-01-01T00:00:00Z').toUTCString();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || url.searchParams.get('comp') !== 'list') {
      res.writeHead(404, { 'x-ms-error-code': 'BlobNotFound', 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code><Message>none</Message></Error>');
      return;
    }
    const start = Number(url.searchParams.get('marker') || 0);
    const max = Math.min(5000, Number(url.searchParams.get('maxresults') || 5000));
    const end = Math.min(count, start + max);
    const parts = ['<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/devstoreaccount1/" ContainerName="big"><MaxResults>', String(max), '</MaxResults><Blobs>'];
    for (let i = start; i < end; i++) {
      const name = `folder${i % 100}/image-${String(i).padStart(7, '0')}.jpg`;
      parts.push(
        `<Blob><Name>${name}</Name><Properties><Creation-Time>${modified}</Creation-Time><Last-Modified>${modified}</Last-Modified><Etag>0x8DC${i.toString(16).padStart(12, '0')}</Etag>`,
        `<Content-Length>${150_000 + (i % 1000)}</Content-Length><Content-Type>image/jpeg</Content-Type><BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties><Metadata /></Blob>`,
      );
    }
    parts.push('</Blobs><NextMarker>', end < count ? String(end) : '', '</NextMarker></EnumerationResults>');
    res.writeHead(200, { 'content-type': 'application/xml', 'x-ms-version': '2025-11-05' });
    res.end(parts.join(''));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/devstoreaccount1`;
  return {
    url: `${endpoint}/big`,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('synthetic-key').toString('base64')};BlobEndpoint=${endpoint};`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function measurePlanMemory(count: number): Promise<BlobBenchResult['planMemory']> {
  const synthetic = await syntheticContainer(count);
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(here, 'blob-plan-memory.ts'), synthetic.url, String(Math.max(1000, Math.floor(count / 10)))],
      { cwd: root, env: { ...process.env, AZURE_STORAGE_CONNECTION_STRING: synthetic.connectionString }, maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { planned: number; seconds: number; samples: { blobs: number; heapUsed: number; rss: number }[]; peakRss: number };
    const first = r.samples[0]!.heapUsed;
    return {
      blobs: r.planned,
      seconds: Math.round(r.seconds * 10) / 10,
      heapGrowthMiB: mib(r.samples[r.samples.length - 1]!.heapUsed - first),
      heapAt: r.samples.map((s) => ({ blobs: s.blobs, heapUsedMiB: mib(s.heapUsed) })),
      peakRssMiB: mib(r.peakRss),
    };
  } finally {
    await synthetic.stop();
  }
}

/**
 * Runs the blob benchmark and prints its lines through `log`.
 *
 * @example
 * const result = await runBlobBench({ quick: true, log: console.log });
 */
export async function runBlobBench(options: BlobBenchOptions = {}): Promise<BlobBenchResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cores = options.cores ?? availableParallelism();
  const count = options.count ?? (options.quick ? 60 : 300);
  const listCount = options.listCount ?? (options.quick ? 20_000 : 100_000);
  const presets = options.presets ?? (options.quick ? ['balanced'] : ['fast', 'balanced']);
  const width = 800;
  const height = 600;
  const base = options.root ?? join(tmpdir(), 'pixbatch-bench');
  const dir = join(base, 'blob-corpus', `${width}x${height}-${count}`);
  if (!existsSync(join(dir, '.complete'))) {
    await rm(dir, { recursive: true, force: true });
    const { generate } = await import('../src/generate/generate.js');
    await generate({ destination: dir, count, size: `${width}x${height}`, seed: 77 });
    await mkdir(dir, { recursive: true });
    await import('node:fs/promises').then((fs) => fs.writeFile(join(dir, '.complete'), ''));
  }
  const files = await listFiles(dir);
  const result: BlobBenchResult = { images: files.length, width, height, cores, pixbatch: [] };

  const az = await startAzurite({ memoryLimitMb: 1024 });
  try {
    const service = BlobServiceClient.fromConnectionString(az.connectionString);
    await upload(service, 'images', dir, files);
    log(`blob → blob on Azurite: ${files.length} JPEGs ${width}x${height}, ${cores} cores`);
    const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString };

    for (const preset of presets) {
      const out = `pixbatch-${preset}`;
      const started = performance.now();
      const summary = await convert({
        source: await openBlobStore(`${az.blobEndpoint}/images`, { env }),
        destination: await openBlobStore(`${az.blobEndpoint}/${out}`, { env }),
        preset,
        overwrite: 'always',
      });
      const seconds = (performance.now() - started) / 1000;
      const rate = { label: `pixbatch (${preset})`, images: summary.counts.converted, seconds, imagesPerSecond: summary.counts.converted / seconds, failed: summary.counts.failed };
      result.pixbatch.push(rate);
      log(`  ${rate.label.padEnd(28)} ${rate.imagesPerSecond.toFixed(1).padStart(7)} images/s  (${seconds.toFixed(1)} s, ${rate.failed} failed)`);
    }

    if (!existsSync(PYTHON)) {
      result.workerSkipped = `${PYTHON} not found (scripts/install-bench-peers.sh installs python3-azure and python3-pil)`;
    } else {
      await service.getContainerClient('worker-out').createIfNotExists();
      try {
        const w = await runWorkers(cores, az.connectionString, 'images', 'worker-out');
        result.worker = { label: `original worker (${cores} processes)`, images: w.converted, seconds: w.seconds, imagesPerSecond: w.converted / w.seconds, failed: w.failed };
        log(`  ${result.worker.label.padEnd(28)} ${result.worker.imagesPerSecond.toFixed(1).padStart(7)} images/s  (${w.seconds.toFixed(1)} s, ${w.failed} failed)`);
        result.ratio = Object.fromEntries(result.pixbatch.map((p) => [p.label, Math.round((p.imagesPerSecond / result.worker!.imagesPerSecond) * 100) / 100]));
        for (const [label, ratio] of Object.entries(result.ratio)) log(`  ${label} / original worker: ${ratio.toFixed(2)}x`);
      } catch (err) {
        result.workerSkipped = (err as Error).message;
      }
    }
    if (result.workerSkipped) log(`  original worker skipped: ${result.workerSkipped}`);
  } finally {
    await az.stop();
  }

  log(`planning ${listCount.toLocaleString('en')} blobs (listing only, synthetic container on loopback):`);
  result.planMemory = await measurePlanMemory(listCount);
  const pm = result.planMemory!;
  log(`  ${pm.blobs.toLocaleString('en')} planned in ${pm.seconds} s; heap after GC ${pm.heapAt.map((h) => `${(h.blobs / 1000).toFixed(0)}k: ${h.heapUsedMiB} MiB`).join(', ')}; peak RSS ${pm.peakRssMiB} MiB`);
  return result;
}

// `node --import tsx bench/blob.ts [--quick]` runs it alone.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runBlobBench({ quick: process.argv.includes('--quick') });
}
