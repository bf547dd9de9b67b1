import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseBlobLocation, parseConnectionString, isBlobLocation, displayLocation } from '../src/store/location.js';
import { resolveCredential } from '../src/store/credentials.js';
import { safeRelativeName } from '../src/store/names.js';
import { redact, redactDeep } from '../src/store/redact.js';
import { isTransient } from '../src/store/blob.js';
import { UsageError } from '../src/errors.js';
import type { TokenCredential } from '@azure/core-auth';

const fakeToken: TokenCredential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600_000 }) };

describe('blob locations', () => {
  test('reads account, container, folder prefix and SAS from a public-cloud URL', () => {
    const loc = parseBlobLocation('https://acct.blob.core.windows.net/images/2024/june?sv=2024-08-04&sp=rl&sig=abc%2Bdef');
    assert.deepEqual(loc, {
      serviceUrl: 'https://acct.blob.core.windows.net',
      accountName: 'acct',
      container: 'images',
      prefix: '2024/june/',
      sas: 'sv=2024-08-04&sp=rl&sig=abc%2Bdef',
      style: 'url',
    });
    assert.equal(displayLocation(loc), 'https://acct.blob.core.windows.net/images/2024/june/');
  });

  test('takes the account from the host of other clouds and from the path of emulator endpoints', () => {
    const cn = parseBlobLocation('https://acct2.blob.core.chinacloudapi.cn/cn1');
    assert.equal(cn.accountName, 'acct2');
    assert.equal(cn.serviceUrl, 'https://acct2.blob.core.chinacloudapi.cn');
    assert.equal(cn.prefix, '');
    const emu = parseBlobLocation('http://127.0.0.1:10000/devstoreaccount1/photos/raw%20files/x');
    assert.equal(emu.serviceUrl, 'http://127.0.0.1:10000/devstoreaccount1');
    assert.equal(emu.accountName, 'devstoreaccount1');
    assert.equal(emu.container, 'photos');
    assert.equal(emu.prefix, 'raw files/x/');
  });

  test('resolves az:// against the connection string endpoint, then AZURE_STORAGE_ACCOUNT', () => {
    const cs = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:5555/devstoreaccount1;';
    const a = parseBlobLocation('az://converted/out', { AZURE_STORAGE_CONNECTION_STRING: cs });
    assert.equal(a.serviceUrl, 'http://127.0.0.1:5555/devstoreaccount1');
    assert.equal(a.container, 'converted');
    assert.equal(a.prefix, 'out/');
    assert.equal(a.style, 'az');
    const b = parseBlobLocation('az://images', { AZURE_STORAGE_ACCOUNT: 'prod' });
    assert.equal(b.serviceUrl, 'https://prod.blob.core.windows.net');
    const c = parseBlobLocation('az://images', { AZURE_STORAGE_CONNECTION_STRING: 'AccountName=gov;AccountKey=a2V5;EndpointSuffix=core.usgovcloudapi.net' });
    assert.equal(c.serviceUrl, 'https://gov.blob.core.usgovcloudapi.net');
  });

  test('refuses az:// without an account and bad container names with a message saying what is expected', () => {
    assert.throws(() => parseBlobLocation('az://images', {}), (e: Error) => e instanceof UsageError && /AZURE_STORAGE_ACCOUNT/.test(e.message));
    assert.throws(() => parseBlobLocation('https://a.blob.core.windows.net/Bad_Name', {}), (e: Error) => e instanceof UsageError && /container name/.test(e.message));
    assert.throws(() => parseBlobLocation('https://a.blob.core.windows.net/', {}), /container is required/);
  });

  test('parses UseDevelopmentStorage and SAS connection strings', () => {
    assert.equal(parseConnectionString('UseDevelopmentStorage=true').blobEndpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    const sas = parseConnectionString('BlobEndpoint=https://x.blob.core.windows.net/;SharedAccessSignature=sv=1&sig=zz');
    assert.equal(sas.accountName, 'x');
    assert.equal(sas.sas, 'sv=1&sig=zz');
    assert.equal(sas.blobEndpoint, 'https://x.blob.core.windows.net');
  });

  test('tells blob locations from folders', () => {
    assert.equal(isBlobLocation('az://c/p'), true);
    assert.equal(isBlobLocation('https://a.blob.core.windows.net/c'), true);
    assert.equal(isBlobLocation('./photos'), false);
    assert.equal(isBlobLocation('C:\\photos'), false);
  });
});

describe('credential order', () => {
  const url = parseBlobLocation('https://acct.blob.core.windows.net/box?sv=1&sig=urlsig');
  const opts = (env: NodeJS.ProcessEnv) => ({ env, tokenCredential: fakeToken });

  test('prefers the connection string, then account key, then account SAS, then the URL SAS, then a token', async () => {
    const cs = 'AccountName=acct;AccountKey=a2V5a2V5a2V5;';
    assert.equal((await resolveCredential(url, opts({ AZURE_STORAGE_CONNECTION_STRING: cs, AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'b3RoZXI=' }))).method, 'connection-string');
    assert.equal((await resolveCredential(url, opts({ AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'a2V5', AZURE_STORAGE_SAS_TOKEN: 'sig=x' }))).method, 'account-key');
    const sas = await resolveCredential(url, opts({ AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_SAS_TOKEN: '?sv=2&sig=envsig' }));
    assert.equal(sas.method, 'account-sas');
    assert.equal(sas.sas, 'sv=2&sig=envsig');
    const fromUrl = await resolveCredential(url, opts({}));
    assert.equal(fromUrl.method, 'url-sas');
    assert.equal(fromUrl.sas, 'sv=1&sig=urlsig');
    const token = await resolveCredential(parseBlobLocation('https://acct.blob.core.windows.net/box'), opts({}));
    assert.equal(token.method, 'token');
  });

  test('skips environment credentials that name another account and says so', async () => {
    const r = await resolveCredential(url, opts({ AZURE_STORAGE_CONNECTION_STRING: 'AccountName=other;AccountKey=a2V5a2V5;', AZURE_STORAGE_ACCOUNT: 'third', AZURE_STORAGE_KEY: 'a2V5' }));
    assert.equal(r.method, 'url-sas');
    assert.match(r.skipped.join(' '), /"other"/);
    assert.match(r.skipped.join(' '), /"third"/);
  });

  test('falls back to DefaultAzureCredential naming the managed identity from AZURE_CLIENT_ID', async () => {
    const r = await resolveCredential(parseBlobLocation('https://acct.blob.core.windows.net/box'), { env: { AZURE_CLIENT_ID: '1111-2222' } });
    assert.equal(r.method, 'token');
    assert.match(r.description, /DefaultAzureCredential.*AZURE_CLIENT_ID=1111-2222/);
  });
});

describe('safe names', () => {
  test('keeps ordinary nested names and normalises separators', () => {
    assert.equal(safeRelativeName('a/b/c.jpg'), 'a/b/c.jpg');
    assert.equal(safeRelativeName('a//./b\\c.jpg'), 'a/b/c.jpg');
    assert.equal(safeRelativeName('.hidden/x..y.jpg'), '.hidden/x..y.jpg');
  });

  test('rejects names that could leave the destination', () => {
    for (const bad of ['../x.jpg', 'a/../../x.jpg', '/etc/x.jpg', '\\\\server\\share\\x.jpg', 'C:/x.jpg', 'c:x.jpg', 'a/..\\..\\x.jpg', 'a/.. /x.jpg', 'a\u0000.jpg', '', './', '...']) {
      assert.equal(safeRelativeName(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('redaction', () => {
  test('masks SAS signatures, account keys and bearer tokens wherever they appear', () => {
    const text = [
      'GET https://a.blob.core.windows.net/c/x.jpg?sv=2024-08-04&sp=r&sig=S3cr3tSig%2Fvalue%3D&se=2030',
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QUJDREVGR0hJSktMTU5PUA==;EndpointSuffix=core.windows.net',
      'Authorization: Bearer eyJhbGciOi.eyJhdWQiOi.c2ln',
      'nested=https%3A%2F%2Fa%2Fc%3Fsv%3D1%26sig%3DNestedSecret%26sp%3Dr',
    ].join('\n');
    const out = redact(text);
    for (const secret of ['S3cr3tSig', 'QUJDREVGR0hJSktMTU5PUA', 'eyJhbGciOi', 'NestedSecret']) assert.ok(!out.includes(secret), `${secret} in ${out}`);
    assert.match(out, /sv=2024-08-04&sp=r&sig=REDACTED&se=2030/);
    assert.match(out, /AccountName=a;AccountKey=REDACTED;/);
  });

  test('masks the values of AZURE_STORAGE_KEY wherever they appear, also inside JSON values', () => {
    const saved = process.env.AZURE_STORAGE_KEY;
    process.env.AZURE_STORAGE_KEY = 'bXlzZWNyZXRrZXl2YWx1ZQ==';
    try {
      const out = redactDeep({ failures: [{ message: 'key bXlzZWNyZXRrZXl2YWx1ZQ== refused' }], n: 3 });
      assert.deepEqual(out, { failures: [{ message: 'key REDACTED refused' }], n: 3 });
    } finally {
      if (saved === undefined) delete process.env.AZURE_STORAGE_KEY;
      else process.env.AZURE_STORAGE_KEY = saved;
    }
  });
});

describe('transient faults', () => {
  test('classifies resets, timeouts, throttling and 5xx as transient and refusals, missing and conflicts as not', () => {
    for (const e of [{ code: 'ECONNRESET' }, { code: 'ETIMEDOUT' }, { statusCode: 503 }, { statusCode: 500 }, { statusCode: 429 }, { statusCode: 408 }, { code: 'REQUEST_SEND_ERROR' }, { cause: { code: 'EPIPE' } }, new Error('socket hang up')]) {
      assert.equal(isTransient(e), true, JSON.stringify(e));
    }
    for (const e of [{ statusCode: 403 }, { statusCode: 404 }, { statusCode: 409 }, { statusCode: 412 }, { name: 'AbortError', code: 'ECONNRESET' }, { code: 'EEXIST' }, new Error('bad image'), undefined]) {
      assert.equal(isTransient(e), false, JSON.stringify(e));
    }
  });
});
