import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { startTokenEndpoint, type TokenEndpoint } from './harness/token-endpoint.js';

// Bearer tokens need TLS, so Azurite runs HTTPS with a certificate made for this run and `--oauth basic`.
// Each scenario runs in its own process: the identity library picks and caches its source per process.

const scenario = fileURLToPath(new URL('./harness/identity-scenario.ts', import.meta.url));
const IDENTITY = '5d1c0a9e-0000-4000-8000-00000000babe';

let az: Azurite;
let imds: TokenEndpoint;
let wrongAudience: TokenEndpoint;
let home: string;

interface Outcome {
  ok: boolean;
  names?: string[];
  text?: string;
  method?: string;
  error?: string;
  stderr: string;
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AZURE_|IDENTITY_|MSI_|IMDS_)/.test(k)) env[k] = v;
  }
  return { ...env, HOME: home, NODE_EXTRA_CA_CERTS: az.certPath, ...extra };
}

function run(location: string, extra: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', scenario, location], { env: cleanEnv(extra), timeout: 60_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ ...JSON.parse(line), stderr });
      } catch {
        // Say whether the child was ended by the timeout (a loaded machine) or failed on its own.
        const how = err?.killed ? `ended by ${err.signal ?? 'a signal'} after the 60 s limit` : `exit code ${err?.code ?? 0}`;
        reject(new Error(`scenario printed no result (${how}; ${err?.message}): ${stdout} ${stderr}`));
      }
    });
  });
}

const outcomes: Record<string, Promise<Outcome>> = {};

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'pixbatch-home-'));
  [az, imds, wrongAudience] = await Promise.all([
    startAzurite({ https: true, oauth: true }),
    startTokenEndpoint({ clientIds: [IDENTITY] }),
    startTokenEndpoint({ audience: 'https://management.azure.com' }),
  ]);
  const url = (container: string) => `${az.blobEndpoint}/${container}/out`;
  // Started together so the child processes overlap; each test awaits its own.
  outcomes.imds = run(url('imds'), { AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url, AZURE_CLIENT_ID: IDENTITY });
  outcomes.appService = run(url('appservice'), { IDENTITY_ENDPOINT: imds.appService.endpoint, IDENTITY_HEADER: imds.appService.header, AZURE_CLIENT_ID: IDENTITY });
  outcomes.unknown = run(url('unknown'), { AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url, AZURE_CLIENT_ID: 'no-such-identity' });
  outcomes.audience = run(url('audience'), { AZURE_POD_IDENTITY_AUTHORITY_HOST: wrongAudience.url, AZURE_CLIENT_ID: IDENTITY });
  outcomes.none = run(url('none'), {});
  outcomes.connectionString = run(url('keyed'), { AZURE_STORAGE_CONNECTION_STRING: az.connectionString, AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url });
  await Promise.allSettled(Object.values(outcomes));
  if (process.env.SHOW) for (const [k, v] of Object.entries(outcomes)) console.log(k, JSON.stringify(await v));
});

after(async () => {
  await Promise.all([az?.stop(), imds?.stop(), wrongAudience?.stop()]);
  rmSync(home, { recursive: true, force: true });
});

describe('managed identity and bearer tokens', () => {
  test('a user-assigned managed identity (IMDS, AZURE_CLIENT_ID) creates the container, writes, lists and reads over HTTPS', async () => {
    const r = await outcomes.imds;
    assert.equal(r.ok, true, r.error);
    assert.equal(r.method, 'token');
    assert.deepEqual(r.names, ['hello.txt']);
    assert.equal(r.text, 'hello through a token');
    const asked = imds.requests.filter((q) => q.path === '/metadata/identity/oauth2/token' && q.query.client_id === IDENTITY);
    assert.ok(asked.length >= 1, 'the token endpoint was asked for the named identity');
    assert.match(asked[0].query.resource, /^https:\/\/storage\.azure\.com\/?$/);
    assert.equal(asked[0].headers.metadata, 'true');
  });

  test('the App Service identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER) works the same way', async () => {
    const r = await outcomes.appService;
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(r.names, ['hello.txt']);
    assert.ok(imds.requests.some((q) => q.path === '/msi/token' && q.headers['x-identity-header'] === imds.appService.header));
  });

  test('an identity the endpoint does not know fails with one line naming DefaultAzureCredential and the client id', async () => {
    const r = await outcomes.unknown;
    assert.equal(r.ok, false);
    assert.match(r.error!, /DefaultAzureCredential \(managed identity AZURE_CLIENT_ID=no-such-identity\)/);
    assert.match(r.error!, /could not get a token .*Identity not found/);
    assert.doesNotMatch(r.error!, /\n|^\s+at /);
  });

  test('a token the service refuses (wrong audience) fails with the status and the way it was tried', async () => {
    const r = await outcomes.audience;
    assert.equal(r.ok, false);
    assert.match(r.error!, /failed: 40[13] \w+, access refused using DefaultAzureCredential/);
    assert.doesNotMatch(r.error!, /Bearer ey/);
  });

  test('with no credential anywhere the message says so and lists the ways to give one', async () => {
    const r = await outcomes.none;
    assert.equal(r.ok, false);
    assert.match(r.error!, /no credential/);
    assert.match(r.error!, /AZURE_STORAGE_CONNECTION_STRING/);
    assert.match(r.error!, /managed identity/);
  });

  test('a connection string wins over a managed identity that is also present', async () => {
    const r = await outcomes.connectionString;
    assert.equal(r.ok, true, r.error);
    assert.equal(r.method, 'connection-string');
  });
});
