import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { openBlobStore, StorageError, type BlobStore } from '../src/store/blob.js';
import { openStore } from '../src/store/index.js';

let az: Azurite;
let service: BlobServiceClient;
const envWith = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...extra });

function sasFor(container: string, permissions: string, key = az.accountKey): string {
  return generateBlobSASQueryParameters(
    { containerName: container, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3600_000) },
    new StorageSharedKeyCredential(az.accountName, key),
  ).toString();
}

async function open(location: string, env: NodeJS.ProcessEnv = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString }, extra = {}): Promise<BlobStore> {
  return openBlobStore(location, { env, ...extra });
}

async function names(store: BlobStore, prefix?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list({ prefix })) out.push(e.name);
  return out.sort();
}

before(async () => {
  az = await startAzurite();
  service = BlobServiceClient.fromConnectionString(az.connectionString);
  const c = service.getContainerClient('listing');
  await c.create();
  for (const name of ['top.jpg', 'pre/a.jpg', 'pre/b.jpg', 'pre/sub/c.jpg', 'pre/sub/d.jpg', 'pre/sub/e.jpg', 'prefix-sibling/x.jpg', 'pre/folder/']) {
    await c.getBlockBlobClient(name).upload(Buffer.from(name), Buffer.byteLength(name));
  }
});

after(async () => {
  await az?.stop();
});

describe('BlobStore against Azurite', () => {
  test('lists every blob under the prefix page by page, with names relative to the prefix', async () => {
    const store = await open(`${az.blobEndpoint}/listing/pre`, undefined, { pageSize: 2 });
    assert.deepEqual(await names(store), ['a.jpg', 'b.jpg', 'sub/c.jpg', 'sub/d.jpg', 'sub/e.jpg']);
    assert.deepEqual(await names(store, 'sub/'), ['sub/c.jpg', 'sub/d.jpg', 'sub/e.jpg']);
    const whole = await open(`${az.blobEndpoint}/listing`);
    assert.equal((await names(whole)).length, 7);
    for await (const e of store.list()) {
      assert.equal(e.size, Buffer.byteLength(`pre/${e.name}`));
      assert.ok(e.etag && e.mtimeMs > 0);
    }
  });

  test('writes with content type and metadata, and reads and stats it back', async () => {
    const store = await open(`${az.blobEndpoint}/rwc/out`);
    await store.prepare('destination');
    const data = Buffer.from('not really a png but bytes are bytes');
    await store.write('x/y.png', data, { contentType: 'image/png', metadata: { pixbatchsource: '"0x1"', pixbatchspec: 'abc123' } });
    assert.deepEqual(await store.read('x/y.png'), data);
    const st = await store.stat('x/y.png');
    assert.equal(st?.size, data.length);
    assert.deepEqual(st?.metadata, { pixbatchsource: '"0x1"', pixbatchspec: 'abc123' });
    const props = await service.getContainerClient('rwc').getBlobClient('out/x/y.png').getProperties();
    assert.equal(props.contentType, 'image/png');
    assert.equal(st?.etag, props.etag);
    assert.equal(await store.stat('x/missing.png'), undefined);
    await assert.rejects(store.read('x/missing.png'), (e: StorageError) => e.code === 'ENOENT');
  });

  test('writes big blobs as staged blocks committed at once', async () => {
    const store = await open(`${az.blobEndpoint}/rwc/big`, undefined, { singleUploadLimit: 1000, blockSize: 300 });
    const data = Buffer.alloc(2500, 7);
    data.write('head', 0);
    await store.write('b.tiff', data, { contentType: 'image/tiff', metadata: { pixbatchspec: 's' } });
    assert.deepEqual(await store.read('b.tiff'), data);
    const blocks = await service.getContainerClient('rwc').getBlockBlobClient('big/b.tiff').getBlockList('all');
    assert.equal(blocks.committedBlocks?.length, 9);
    assert.equal(blocks.uncommittedBlocks?.length ?? 0, 0);
    assert.equal((await store.stat('b.tiff'))?.metadata?.pixbatchspec, 's');
  });

  test('a conditional write refuses to replace an existing blob with code EEXIST', async () => {
    const store = await open(`${az.blobEndpoint}/rwc/cond`);
    await store.write('a.png', Buffer.from('first'), { ifNotExists: true });
    await assert.rejects(store.write('a.png', Buffer.from('second'), { ifNotExists: true }), (e: StorageError) => e.code === 'EEXIST');
    assert.equal((await store.read('a.png')).toString(), 'first');
    const big = await open(`${az.blobEndpoint}/rwc/cond`, undefined, { singleUploadLimit: 4, blockSize: 4 });
    await assert.rejects(big.write('a.png', Buffer.from('third one'), { ifNotExists: true }), (e: StorageError) => e.code === 'EEXIST');
    assert.equal((await store.read('a.png')).toString(), 'first');
  });

  test('a conditional write that finds its own bytes already there counts as done (a retried try whose answer was lost)', async () => {
    const store = await open(`${az.blobEndpoint}/rwc/cond`);
    await store.write('same.png', Buffer.from('same'), { ifNotExists: true, metadata: { pixbatchspec: 'v1' } });
    await store.write('same.png', Buffer.from('same'), { ifNotExists: true, metadata: { pixbatchspec: 'v1' } });
    await assert.rejects(store.write('same.png', Buffer.from('same'), { ifNotExists: true, metadata: { pixbatchspec: 'v2' } }), (e: StorageError) => e.code === 'EEXIST');
  });

  test('preparing a destination creates its container; preparing a missing source says 404 and which container', async () => {
    const dest = await open(`${az.blobEndpoint}/created-here/p`);
    await dest.prepare('destination');
    assert.equal(await service.getContainerClient('created-here').exists(), true);
    await dest.prepare('destination');
    const src = await open(`${az.blobEndpoint}/no-such-container`);
    await assert.rejects(src.prepare('source'), (e: StorageError) => {
      assert.equal(e.statusCode, 404);
      assert.match(e.message, /404 ContainerNotFound, container "no-such-container" does not exist/);
      assert.match(e.message, /using the account key in AZURE_STORAGE_CONNECTION_STRING/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });

  test('opens emulator locations through openStore with the connection string, also as az://', async () => {
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
    try {
      const store = await openStore('az://listing/pre/sub', 'source');
      assert.deepEqual(await names(store as BlobStore), ['c.jpg', 'd.jpg', 'e.jpg']);
      assert.equal(store.location, `${az.blobEndpoint}/listing/pre/sub/`);
    } finally {
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });
});

describe('credentials against Azurite', () => {
  test('a SAS in the URL works, and the location shown never contains it', async () => {
    const sas = sasFor('listing', 'rl');
    const store = await open(`${az.blobEndpoint}/listing/pre?${sas}`, envWith({}));
    assert.equal(store.credential.method, 'url-sas');
    assert.deepEqual(await names(store, 'sub/'), ['sub/c.jpg', 'sub/d.jpg', 'sub/e.jpg']);
    const sig = new URLSearchParams(sas).get('sig')!;
    assert.ok(!store.location.includes(sig) && !store.location.includes('sig='));
  });

  test('a wrong account key fails with one line saying 403 and AZURE_STORAGE_KEY, without the key', async () => {
    const wrongKey = Buffer.from('definitely-not-the-emulator-key-0123456789').toString('base64');
    const store = await open(`${az.blobEndpoint}/listing`, envWith({ AZURE_STORAGE_ACCOUNT: az.accountName, AZURE_STORAGE_KEY: wrongKey }));
    await assert.rejects(store.prepare('source'), (e: StorageError) => {
      assert.equal(e.statusCode, 403);
      assert.match(e.message, /403 AuthorizationFailure|403 AuthenticationFailed|403/);
      assert.match(e.message, /using AZURE_STORAGE_KEY for AZURE_STORAGE_ACCOUNT "devstoreaccount1"/);
      assert.ok(!e.message.includes(wrongKey), e.message);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });

  test('a SAS without write permission fails a write with 403 naming the URL SAS, and no signature in the message', async () => {
    const sas = sasFor('listing', 'rl');
    const sig = new URLSearchParams(sas).get('sig')!;
    const store = await open(`${az.blobEndpoint}/listing/pre?${sas}`, envWith({}), { maxTries: 1 });
    await assert.rejects(store.write('new.png', Buffer.from('x')), (e: StorageError) => {
      assert.equal(e.statusCode, 403);
      assert.match(e.message, /^write new\.png to .* failed: 403 .*using the SAS in the URL/);
      for (const s of [sig, encodeURIComponent(sig)]) assert.ok(!e.message.includes(s), e.message);
      return true;
    });
  });

  test('a SAS signed with the wrong key is refused with 403, and a missing container with 404', async () => {
    const bad = sasFor('listing', 'rl', Buffer.from('x'.repeat(64)).toString('base64'));
    const store = await open(`${az.blobEndpoint}/listing?${bad}`, envWith({}));
    await assert.rejects(store.prepare('source'), (e: StorageError) => e.statusCode === 403 && /the SAS in the URL/.test(e.message) && !e.message.includes(new URLSearchParams(bad).get('sig')!));
    const missing = await open(`${az.blobEndpoint}/ghost`, envWith({ AZURE_STORAGE_ACCOUNT: az.accountName, AZURE_STORAGE_KEY: az.accountKey }));
    await assert.rejects(missing.prepare('source'), (e: StorageError) => e.statusCode === 404 && /container "ghost" does not exist/.test(e.message));
  });

  test('a token credential over plain http is refused before any request, saying https is needed', async () => {
    await assert.rejects(open(`${az.blobEndpoint}/listing`, envWith({})), /Expected an https endpoint .* only sent over https/);
  });
});
