import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { generate } from '../src/index.js';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { jsonFrom, runPixbatch } from './harness/cli.js';

// `generate` writes to any location `convert` accepts; the same seed gives the same bytes everywhere.

let az: Azurite;
let root: string;
let service: BlobServiceClient;
let savedConnectionString: string | undefined;
const options = { count: 14, corrupt: 3, size: '64x48', seed: 9 } as const;

before(async () => {
  az = await startAzurite();
  savedConnectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  service = BlobServiceClient.fromConnectionString(az.connectionString);
  root = await mkdtemp(join(tmpdir(), 'pixbatch-generate-blob-'));
});

after(async () => {
  if (savedConnectionString === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  else process.env.AZURE_STORAGE_CONNECTION_STRING = savedConnectionString;
  await az?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function blobs(container: ContainerClient, prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const b of container.listBlobsFlat({ prefix })) out.set(b.name.slice(prefix.length), await container.getBlobClient(b.name).downloadToBuffer());
  return out;
}

test('writes the images and broken files into a container under a prefix, creating the container', async () => {
  const result = await generate({ ...options, destination: `${az.blobEndpoint}/corpus/a/` });
  assert.equal(result.images, 14);
  assert.equal(result.broken, 3);
  const container = service.getContainerClient('corpus');
  const written = await blobs(container, 'a/');
  assert.deepEqual([...written.keys()].sort(), [...result.files, ...result.corrupt].sort());
  for (const name of result.files) {
    const { info } = await sharp(written.get(name)!, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [64, 48], name);
  }
  const props = await container.getBlobClient(`a/${result.files[0]}`).getProperties();
  assert.equal(props.contentType, 'image/jpeg');
  assert.equal(result.bytes, [...written.values()].reduce((n, b) => n + b.length, 0));
});

test('the same seed gives the same bytes in a folder and in a container', async () => {
  const local = join(root, 'local');
  const result = await generate({ ...options, destination: local });
  await generate({ ...options, destination: `${az.blobEndpoint}/corpus/b` });
  const written = await blobs(service.getContainerClient('corpus'), 'b/');
  assert.equal(written.size, 17);
  for (const name of [...result.files, ...result.corrupt]) assert.ok((await readFile(join(local, name))).equals(written.get(name)!), `${name} differs`);
});

test('ranges of indices written separately make the same corpus as one run', async () => {
  const whole = `${az.blobEndpoint}/corpus/whole`;
  const split = `${az.blobEndpoint}/corpus/split`;
  await generate({ ...options, destination: whole });
  const parts = await Promise.all([
    generate({ ...options, destination: split, range: { start: 0, end: 5 } }),
    generate({ ...options, destination: split, range: { start: 5, end: 15 } }),
    generate({ ...options, destination: split, range: { start: 15, end: 17 } }),
  ]);
  assert.deepEqual(parts.map((p) => [p.images, p.broken]), [[5, 0], [9, 1], [0, 2]]);
  assert.deepEqual(parts[1]!.corrupt, ['set-01/bad-00001-truncated.jpg']);
  const container = service.getContainerClient('corpus');
  const a = await blobs(container, 'whole/');
  const b = await blobs(container, 'split/');
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [name, data] of a) assert.ok(data.equals(b.get(name)!), `${name} differs`);
});

test('pixbatch generate az://CONTAINER/PREFIX uploads the corpus and says where it went', async () => {
  const r = await runPixbatch(['generate', 'az://cli/pre', '--count', '6', '--size', '32x32', '--json'], { env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString } });
  assert.equal(r.code, 0, r.stderr);
  const summary = jsonFrom(r, { whole: true }) as { images: number; destination: string };
  assert.equal(summary.images, 6);
  assert.equal(summary.destination, 'az://cli/pre');
  assert.match(r.stderr, /generated 6 images .* into az:\/\/cli\/pre/);
  const written = await blobs(service.getContainerClient('cli'), 'pre/');
  assert.deepEqual([...written.keys()].sort(), ['set-01/img-00001.jpg', 'set-01/img-00005.jpg', 'set-02/img-00002.jpg', 'set-02/img-00006.jpg', 'set-03/img-00003.jpg', 'set-04/img-00004.jpg']);
});

test('a range outside the corpus is refused before anything is written', async () => {
  await assert.rejects(generate({ ...options, destination: `${az.blobEndpoint}/never`, range: { start: 10, end: 18 } }), /Expected START:END with 0 <= START <= END <= 17 .* for range but received "10:18"/);
  assert.equal(await service.getContainerClient('never').exists(), false);
});
