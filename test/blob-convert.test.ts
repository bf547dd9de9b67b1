import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters, type ContainerClient } from '@azure/storage-blob';
import { convert } from '../src/index.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { jpegBuffer } from './harness/images.js';
import type { ImageRecord } from '../src/interfaces.js';
import { jsonFrom, type CliRun } from './harness/cli.js';

// Every direction through convert() with location strings, as a user writes them.

let az: Azurite;
let service: BlobServiceClient;
let root: string;
let savedConnectionString: string | undefined;

function sasFor(container: string, permissions: string): string {
  return generateBlobSASQueryParameters(
    { containerName: container, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3600_000) },
    new StorageSharedKeyCredential(az.accountName, az.accountKey),
  ).toString();
}

async function blobNames(container: ContainerClient, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix })) out.push(b.name);
  return out.sort();
}

async function upload(container: string, blobs: Record<string, Buffer>): Promise<void> {
  const c = service.getContainerClient(container);
  await c.createIfNotExists();
  await Promise.all(Object.entries(blobs).map(([name, data]) => c.getBlockBlobClient(name).upload(data, data.length)));
}

/** Puts a blob under a name the SDK cannot address (it resolves `..` in URLs), as a hostile uploader could. */
function rawPut(container: string, name: string, data: Buffer): Promise<number> {
  const sas = sasFor(container, 'racwl');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: az.port, method: 'PUT', path: `/${az.accountName}/${container}/${name}?${sas}`, headers: { 'x-ms-blob-type': 'BlockBlob', 'content-length': data.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

before(async () => {
  az = await startAzurite();
  service = BlobServiceClient.fromConnectionString(az.connectionString);
  root = await mkdtemp(join(tmpdir(), 'pixbatch-blobconv-'));
  savedConnectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  await upload('images', {
    'a.jpg': await jpegBuffer(64, 48, 1),
    'sub/b.JPG': await jpegBuffer(40, 30, 2),
    'notes.txt': Buffer.from('not selected'),
  });
});

after(async () => {
  if (savedConnectionString === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  else process.env.AZURE_STORAGE_CONNECTION_STRING = savedConnectionString;
  await az?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('convert() with Blob Storage', () => {
  test('folder → blob: creates the container and writes PNGs with Content-Type and source metadata; a re-run skips them', async () => {
    const src = join(root, 'local-in');
    await mkdir(join(src, 'deep'), { recursive: true });
    await writeFile(join(src, 'one.jpg'), await jpegBuffer(64, 48, 5));
    await writeFile(join(src, 'deep', 'two.jpeg'), await jpegBuffer(32, 32, 6));
    const summary = await convert({ source: src, destination: 'az://fresh-out/png', concurrency: 2 });
    assert.deepEqual(summary.counts, { total: 2, converted: 2, skipped: 0, failed: 0 });
    const c = service.getContainerClient('fresh-out');
    assert.deepEqual(await blobNames(c), ['png/deep/two.png', 'png/one.png']);
    const props = await c.getBlobClient('png/one.png').getProperties();
    assert.equal(props.contentType, 'image/png');
    assert.ok(props.metadata?.pixbatchsource && props.metadata?.pixbatchspec, JSON.stringify(props.metadata));
    const png = await c.getBlobClient('png/one.png').downloadToBuffer();
    assert.deepEqual(await sharp(png).metadata().then((m) => [m.format, m.width, m.height]), ['png', 64, 48]);
    const again = await convert({ source: src, destination: 'az://fresh-out/png', concurrency: 2 });
    assert.deepEqual(again.counts, { total: 2, converted: 0, skipped: 2, failed: 0 });
  });

  test('blob → folder: keeps the folder structure and selects only JPEGs', async () => {
    const dst = join(root, 'from-blob');
    const summary = await convert({ source: `${az.blobEndpoint}/images`, destination: dst, concurrency: 2 });
    assert.deepEqual(summary.counts, { total: 2, converted: 2, skipped: 0, failed: 0 });
    assert.deepEqual((await walk(dst)).filter((f) => !f.startsWith('.pixbatch')), ['a.png', 'sub/b.png']);
    assert.equal((await sharp(join(dst, 'sub/b.png')).metadata()).width, 40);
  });

  test('blob → blob with SAS URLs: converts, and neither the summary nor the records contain a signature', async () => {
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    try {
      await service.getContainerClient('sas-out').createIfNotExists();
      const srcSas = sasFor('images', 'rl');
      const dstSas = sasFor('sas-out', 'racwl');
      const records: ImageRecord[] = [];
      const summary = await convert({
        source: `${az.blobEndpoint}/images?${srcSas}`,
        destination: `${az.blobEndpoint}/sas-out/webp?${dstSas}`,
        to: 'webp',
        concurrency: 2,
        onRecord: (r) => records.push(r),
      });
      assert.deepEqual(summary.counts, { total: 2, converted: 2, skipped: 0, failed: 0 });
      assert.deepEqual(await blobNames(service.getContainerClient('sas-out')), ['webp/a.webp', 'webp/sub/b.webp']);
      assert.equal((await service.getContainerClient('sas-out').getBlobClient('webp/a.webp').getProperties()).contentType, 'image/webp');
      const text = JSON.stringify({ summary, records });
      for (const sas of [srcSas, dstSas]) {
        const sig = new URLSearchParams(sas).get('sig')!;
        assert.ok(!text.includes(sig) && !text.includes(encodeURIComponent(sig)), text);
      }
    } finally {
      process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });

  test('bad inputs from a container are reported by name and code while the good ones convert', async () => {
    const good = await jpegBuffer(64, 48, 9);
    await upload('bad-inputs', {
      'good.jpg': good,
      'empty.jpg': Buffer.alloc(0),
      'text.jpg': Buffer.from('this is not a jpeg at all, just text pretending'),
      'truncated.jpg': good.subarray(0, Math.floor(good.length / 3)),
    });
    const summary = await convert({ source: 'az://bad-inputs', destination: 'az://bad-outputs', concurrency: 2 });
    assert.equal(summary.counts.converted, 1);
    assert.equal(summary.counts.failed, 3);
    const codes = Object.fromEntries(summary.failures.map((f) => [f.name, f.code]));
    assert.equal(codes['empty.jpg'], 'EMPTY_FILE');
    assert.equal(codes['text.jpg'], 'NOT_AN_IMAGE');
    assert.equal(codes['truncated.jpg'], 'CORRUPT_IMAGE');
    assert.deepEqual(await blobNames(service.getContainerClient('bad-outputs')), ['good.png']);
  });

  test('a blob named with ../ converted to a local folder fails as UNSAFE_NAME and writes nothing outside the destination', async () => {
    const img = await jpegBuffer(16, 16, 3);
    await upload('hostile', { 'fine.jpg': img });
    assert.equal(await rawPut('hostile', '../escape.jpg', img), 201);
    assert.equal(await rawPut('hostile', 'a/../../escape2.jpg', img), 201);
    const names = await blobNames(service.getContainerClient('hostile'));
    assert.ok(names.includes('../escape.jpg') && names.includes('a/../../escape2.jpg'), `stored names: ${names}`);
    const base = join(root, 'jail');
    const dst = join(base, 'inner', 'out');
    await mkdir(dst, { recursive: true });
    const records: ImageRecord[] = [];
    const summary = await convert({ source: 'az://hostile', destination: dst, concurrency: 2, onRecord: (r) => records.push(r) });
    assert.equal(summary.counts.converted, 1, JSON.stringify(summary));
    // Each `..` name is reported by name as UNSAFE_NAME, never converted and never silently left out.
    const hostile = records.filter((r) => r.name.includes('..'));
    assert.deepEqual(hostile.map((r) => r.name).sort(), ['../escape.jpg', 'a/../../escape2.jpg']);
    assert.equal(summary.counts.failed, 2);
    for (const r of hostile) {
      assert.equal(r.status, 'failed', JSON.stringify(r));
      assert.equal(r.code, 'UNSAFE_NAME');
    }
    assert.deepEqual((await walk(base)).filter((f) => !f.includes('.pixbatch')), ['inner/out/fine.png']);
  });
});

const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function pixbatch(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AZURE_')) clean[k] = v;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, signal: err?.signal as NodeJS.Signals | undefined, stdout, stderr });
    });
  });
}

describe('pixbatch convert with Blob Storage', () => {
  test('--json and --report of a blob → blob run with SAS URLs contain no signature', async () => {
    await service.getContainerClient('cli-out').createIfNotExists();
    const srcSas = sasFor('images', 'rl');
    const dstSas = sasFor('cli-out', 'racwl');
    const report = join(root, 'cli-report.json');
    const r = await pixbatch(['convert', `${az.blobEndpoint}/images?${srcSas}`, `${az.blobEndpoint}/cli-out?${dstSas}`, '--json', '--report', report], {});
    assert.equal(r.code, 0, r.stderr);
    const summary = jsonFrom(r, { whole: true });
    assert.equal(summary.counts.converted, 2);
    const all = r.stdout + r.stderr + (await readFile(report, 'utf8'));
    for (const sas of [srcSas, dstSas]) {
      const sig = new URLSearchParams(sas).get('sig')!;
      assert.ok(!all.includes(sig) && !all.includes(encodeURIComponent(sig)), 'signature printed');
    }
  });

  test('a refused key and a missing container end the run with one line, exit code 3, and no secret', async () => {
    const wrongKey = Buffer.from('a-wrong-key-for-the-emulator-account!').toString('base64');
    const sas = sasFor('nothing-here', 'rl');
    const [refused, missing] = await Promise.all([
      pixbatch(['convert', `${az.blobEndpoint}/images`, join(root, 'never')], { AZURE_STORAGE_ACCOUNT: az.accountName, AZURE_STORAGE_KEY: wrongKey }),
      pixbatch(['convert', `${az.blobEndpoint}/nothing-here?${sas}`, join(root, 'never')], {}),
    ]);
    assert.equal(refused.code, 3);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /403 .*using AZURE_STORAGE_KEY for AZURE_STORAGE_ACCOUNT/);
    assert.ok(!refused.stderr.includes(wrongKey));
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /404 ContainerNotFound, container "nothing-here" does not exist \(using the SAS in the URL\)/);
    assert.ok(!missing.stderr.includes(new URLSearchParams(sas).get('sig')!));
  });
});
