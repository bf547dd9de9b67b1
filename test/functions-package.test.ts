import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import { BlobServiceClient } from '@azure/storage-blob';
import { FUNCTIONS_SCRIPT, type FunctionsPackage } from '../src/functions/package.js';
import { jsonFrom, runPixbatch } from './harness/cli.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { startOtlpReceiver } from './harness/telemetry-sinks.js';
import { jpegBuffer } from './harness/images.js';
import { blobCreatedEvent } from './harness/event-grid.js';

// The zip is the thing tested: it is unpacked to a folder outside this repository and its entry is loaded
// by a plain `node`, with `@azure/functions-core` (which the Functions host's Node worker provides) standing
// in only to capture what the v4 programming model registers. The host itself cannot run here: its
// installer downloads the runtime.

let az: Azurite;
let work: string;

before(async () => {
  az = await startAzurite();
  work = await mkdtemp(join(tmpdir(), 'pixbatch-functions-zip-'));
});

after(async () => {
  await az?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface ZipEntry {
  name: string;
  dosTime: number;
  dosDate: number;
  extraFields: number;
  mode: number;
  data: Buffer;
}

async function readZip(file: string): Promise<ZipEntry[]> {
  const zip = await promisify<string, yauzl.Options, yauzl.ZipFile>(yauzl.open)(file, { lazyEntries: true });
  const entries: ZipEntry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (e: yauzl.Entry) => {
      zip.openReadStream(e, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          entries.push({ name: e.fileName, dosTime: e.lastModFileTime, dosDate: e.lastModFileDate, extraFields: e.extraFields.length, mode: e.externalFileAttributes >>> 16, data: Buffer.concat(chunks) });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return entries;
}

// Stands in for the host's worker: answers `require('@azure/functions-core')` and keeps the registrations.
const CAPTURE = `
const Module = require('node:module');
const registrations = [];
const core = {
  setProgrammingModel() {},
  registerFunction(metadata, handler) { registrations.push({ metadata, handler }); return { dispose() {} }; },
  registerHook() { return { dispose() {} }; },
  log() {},
};
const load = Module._load;
Module._load = function (request, ...rest) { return request === '@azure/functions-core' ? core : load.call(this, request, ...rest); };
globalThis.capturedRegistrations = registrations;
`;

// Loads the app as the worker does (package.json "main"), then calls the Event Grid function once.
const DRIVER = `
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [dir, eventJson] = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
await import(pathToFileURL(join(dir, pkg.main)).href);
const regs = globalThis.capturedRegistrations;
const lines = [];
const context = { invocationId: 'zip-test', functionName: 'convertBlobCreated', log: (...a) => lines.push(a.join(' ')), warn: (...a) => lines.push(a.join(' ')), error: (...a) => lines.push(a.join(' ')) };
const eventGrid = regs.find((r) => Object.values(r.metadata.bindings).some((b) => b.type === 'eventGridTrigger'));
await eventGrid.handler(JSON.parse(eventJson), context);
process.stdout.write(JSON.stringify({ registrations: regs.map((r) => r.metadata), lines }));
`;

/** The chunks `file` imports: statically, and with `dynamic` also through import(). */
async function chunkImports(file: string, dynamic: boolean): Promise<string[]> {
  const code = await readFile(file, 'utf8');
  const re = dynamic ? /(?:from|import\(?)\s*"\.\/(export-worker-chunk-[^"]+\.js)"/g : /(?:from|import)\s*"\.\/(export-worker-chunk-[^"]+\.js)"/g;
  return [...code.matchAll(re)].map((m) => join(dirname(file), m[1]!));
}

/** The code a module loads: it and every chunk it imports, recursively. */
async function loadedCode(file: string, dynamic: boolean, seen = new Set<string>()): Promise<string> {
  if (seen.has(file)) return '';
  seen.add(file);
  let code = await readFile(file, 'utf8');
  for (const f of await chunkImports(file, dynamic)) code += await loadedCode(f, dynamic, seen);
  return code;
}

/**
 * The export thread's entry loads neither exporter; each is a chunk it imports only when configured, and
 * the OTLP one never reaches the Azure Monitor exporter or the identity libraries it brings.
 */
async function assertExportersSplit(app: string): Promise<void> {
  const entry = join(app, 'export-worker.bundle.js');
  const azure = /DefaultAzureCredential|@azure\/msal-node/;
  assert.doesNotMatch(await loadedCode(entry, false), azure, 'the entry and its static chunks hold no Azure Monitor or identity code');
  const staticChunks = new Set(await chunkImports(entry, false));
  const exporters = (await chunkImports(entry, true)).filter((f) => !staticChunks.has(f));
  assert.equal(exporters.length, 2, `the entry imports two exporter chunks when configured: ${exporters.join(', ')}`);
  const [withAzure, otlp] = await Promise.all(exporters.map((f) => loadedCode(f, true))).then((codes) => [codes.filter((c) => azure.test(c)), codes.filter((c) => !azure.test(c))]);
  assert.equal(withAzure!.length, 1, 'one exporter chunk brings the Azure Monitor exporter and identity');
  assert.equal(otlp!.length, 1, 'the other does not');
  assert.match(otlp![0]!, /v1\/traces/, 'the other is the OTLP exporter');
  // Every file, the Azure Monitor chunks too (no run here loads them), parses as an ES module: each
  // carries the `require` banner once.
  const files = (await readdir(app)).filter((n) => n.startsWith('export-worker')).map((n) => join(app, n));
  const parse = `const vm = require('node:vm'), fs = require('node:fs');
for (const f of process.argv.slice(1)) new vm.SourceTextModule(fs.readFileSync(f, 'utf8'), { identifier: f });`;
  await promisify(execFile)(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', parse, ...files]);
}

test('pixbatch functions package writes a zip of fixed form whose entry, under a plain node, registers both triggers and converts a blob', async () => {
  const run = await runPixbatch(['functions', 'package', '--out', join(work, 'zips', 'functions.zip'), '--json']);
  assert.equal(run.code, 0, run.stderr);
  const pkg = jsonFrom(run, { whole: true }) as FunctionsPackage;
  assert.match(pkg.sha256, /^[0-9a-f]{64}$/);
  const entries = await readZip(pkg.file);
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(), 'entries sorted');
  assert.equal(new Set(entries.map((e) => `${e.dosDate}/${e.dosTime}`)).size, 1, 'one fixed time');
  assert.ok(entries.every((e) => e.extraFields === 0), 'no extra timestamp fields');
  for (const name of ['host.json', 'package.json', FUNCTIONS_SCRIPT, 'app/export-worker.bundle.js', 'node_modules/sharp/package.json', 'node_modules/@img/sharp-linux-x64/package.json']) {
    assert.ok(names.includes(name), `${name} in the zip`);
  }
  assert.ok(names.some((n) => /^node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(n)));
  assert.ok(names.some((n) => /^app\/export-worker-chunk-[^/]+\.js$/.test(n)), 'the export thread\'s chunks are next to its entry');
  const host = JSON.parse(entries.find((e) => e.name === 'host.json')!.data.toString());
  assert.equal(host.version, '2.0');
  assert.match(host.extensionBundle.id, /ExtensionBundle/);
  assert.ok(!names.some((n) => n.startsWith('node_modules/@azure/functions')), 'the host provides the runtime side, and the library is bundled');

  const dir = join(work, 'unpacked');
  for (const e of entries) {
    await mkdir(dirname(join(dir, e.name)), { recursive: true });
    await writeFile(join(dir, e.name), e.data, { mode: e.mode & 0o777 });
  }
  await assertExportersSplit(join(dir, 'app'));
  await writeFile(join(work, 'capture.cjs'), CAPTURE);
  await writeFile(join(work, 'driver.mjs'), DRIVER);

  const service = BlobServiceClient.fromConnectionString(az.connectionString);
  const images = service.getContainerClient('images');
  await images.create();
  const jpeg = await jpegBuffer(40, 30, 11);
  const put = await images.getBlockBlobClient('up/zip.jpg').upload(jpeg, jpeg.length);
  const event = blobCreatedEvent({ account: az.accountName, container: 'images', blob: 'up/zip.jpg', blobEndpoint: az.blobEndpoint, eTag: put.etag });

  // Telemetry on: the zip's export thread (its own bundle next to the entry) must start and send.
  const otlp = await startOtlpReceiver();
  const driven = await promisify(execFile)(process.execPath, ['--require', join(work, 'capture.cjs'), join(work, 'driver.mjs'), dir, JSON.stringify(event)], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      PIXBATCH_STORAGE: az.connectionString,
      PIXBATCH_SOURCE: 'az://images/up',
      PIXBATCH_DESTINATION: 'az://converted',
      PIXBATCH_TO: 'png',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    },
    timeout: 120_000,
  }).finally(() => otlp.stop());
  const traces = otlp.requests.filter((q) => q.path === '/v1/traces').map((q) => q.body.toString());
  assert.ok(traces.some((t) => t.includes('"pixbatch function"')), `no function span was sent; stderr: ${driven.stderr}`);
  const result = jsonFrom(driven, { what: 'the functions driver', whole: true }) as { registrations: Array<{ name: string; bindings: Record<string, { type: string; route?: string; methods?: string[] }> }>; lines: string[] };
  const byName = new Map(result.registrations.map((r) => [r.name, Object.values(r.bindings).map((b) => b.type)]));
  assert.deepEqual([...byName.keys()].sort(), ['blobCreatedWebhook', 'convertBlobCreated']);
  assert.ok(byName.get('convertBlobCreated')!.includes('eventGridTrigger'));
  assert.ok(byName.get('blobCreatedWebhook')!.includes('httpTrigger'));
  assert.ok(result.lines.some((l) => /^converted zip\.jpg -> zip\.png/.test(l)), result.lines.join('\n'));
  const out = await service.getContainerClient('converted').getBlobClient('zip.png').downloadToBuffer();
  assert.equal(out.subarray(1, 4).toString('latin1'), 'PNG');
  assert.equal(JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).main, FUNCTIONS_SCRIPT);
});
