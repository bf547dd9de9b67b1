import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readConfigFile, requireConfig } from '../src/config/load.js';
import { writeStarterConfig } from '../src/config/starter.js';
import { run } from '../src/cli/program.js';
import { UsageError } from '../src/errors.js';

const SUB = '11111111-2222-3333-4444-555555555555';

describe('configuration', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixbatch-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, value: unknown) => {
    const path = join(dir, name);
    await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
    return path;
  };

  test('fills defaults when there is no file, including the original container names', async () => {
    const config = await loadConfig({ env: {}, cwd: dir });
    assert.equal(config.file, undefined);
    assert.deepEqual(
      [config.storage.inputContainer, config.storage.outputContainer, config.storage.scriptsContainer],
      ['images', 'converted', 'scripts'],
    );
    assert.equal(config.batch.poolId, 'pixbatch');
    assert.equal(config.azure.armEndpoint, 'https://management.azure.com');
    assert.ok(config.prices.vm.Standard_D2s_v3!.dedicated > 0);
  });

  test('reads pixbatch.config.json from the working folder', async () => {
    const sub = await mkdtemp(join(dir, 'cwd-'));
    await writeFile(join(sub, 'pixbatch.config.json'), JSON.stringify({ batch: { poolId: 'from-file', vmSize: 'Standard_F4s_v2' } }));
    const config = await loadConfig({ env: {}, cwd: sub });
    assert.equal(config.batch.poolId, 'from-file');
    assert.equal(config.batch.vmSize, 'Standard_F4s_v2');
    assert.equal(config.file, join(sub, 'pixbatch.config.json'));
  });

  test('lets flags override the environment, and the environment override the file', async () => {
    const file = await write('layers.json', {
      azure: { subscriptionId: SUB, resourceGroup: 'rg-file', region: 'westeurope' },
      batch: { poolId: 'pool-file', maxNodes: 4, accountName: 'filebatch' },
    });
    const env = { PIXBATCH_CONFIG: file, PIXBATCH_POOL_ID: 'pool-env', PIXBATCH_RESOURCE_GROUP: 'rg-env', PIXBATCH_MAX_NODES: '7' };
    const config = await loadConfig({ env, cwd: dir, flags: { pool: 'pool-flag' } });
    assert.equal(config.batch.poolId, 'pool-flag');
    assert.equal(config.azure.resourceGroup, 'rg-env');
    assert.equal(config.batch.maxNodes, 7);
    assert.equal(config.azure.region, 'westeurope');
    assert.equal(config.batch.accountName, 'filebatch');
    assert.equal(config.azure.subscriptionId, SUB);
  });

  test('takes the Azure variables a shell set up for the Azure CLI already has', async () => {
    const config = await loadConfig({
      env: { AZURE_SUBSCRIPTION_ID: SUB, AZURE_BATCH_ACCOUNT: 'envbatch', AZURE_BATCH_ENDPOINT: 'https://envbatch.eastus.batch.azure.com', AZURE_STORAGE_ACCOUNT: 'envstore' },
      cwd: dir,
    });
    assert.equal(config.azure.subscriptionId, SUB);
    assert.equal(config.batch.accountName, 'envbatch');
    assert.equal(config.batch.accountUrl, 'https://envbatch.eastus.batch.azure.com');
    assert.equal(config.storage.account, 'envstore');
  });

  test('does not take AZURE_CLIENT_ID as the pool identity', async () => {
    const config = await loadConfig({ env: { AZURE_CLIENT_ID: SUB }, cwd: dir });
    assert.equal(config.identity.clientId, undefined);
  });

  test('names the field and what it expects when the file has a wrong type', async () => {
    const file = await write('wrong-type.json', { batch: { poolId: 42 } });
    await assert.rejects(loadConfig({ flags: { config: file }, env: {}, cwd: dir }), (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /batch\.poolId: expected string$/);
      assert.equal(err.message.split('\n').length, 1);
      return true;
    });
  });

  test('reports a misspelt key as an unknown field instead of ignoring it', async () => {
    const file = await write('typo.json', { batch: { poolID: 'x' } });
    await assert.rejects(readConfigFile(file), /batch\.poolID: unknown field/);
  });

  test('rejects a subscription id that is not a GUID and a negative node count', async () => {
    const file = await write('bad-values.json', { azure: { subscriptionId: 'my-sub' }, batch: { spotNodes: -1 } });
    await assert.rejects(readConfigFile(file), (err: Error) => {
      assert.match(err.message, /azure\.subscriptionId: expected a GUID/);
      assert.match(err.message, /batch\.spotNodes: expected an integer >= 0/);
      return true;
    });
  });

  test('says which file is not valid JSON', async () => {
    const file = await write('broken.json', '{ "batch": ');
    await assert.rejects(readConfigFile(file), (err: Error) => err.message.startsWith(`${file}: not valid JSON`));
  });

  test('fails when an explicitly named config file does not exist', async () => {
    await assert.rejects(loadConfig({ flags: { config: join(dir, 'nope.json') }, env: {}, cwd: dir }), /config file not found/);
  });

  test('names the environment variable that holds a non-number', async () => {
    await assert.rejects(loadConfig({ env: { PIXBATCH_MAX_NODES: 'many' }, cwd: dir }), /PIXBATCH_MAX_NODES: expected an integer but received "many"/);
  });

  test('takes the spellings the convert command uses for the Batch URL and the identity', async () => {
    const config = await loadConfig({ env: {}, cwd: dir, flags: { batchAccountUrl: 'https://acct.westus.batch.azure.com', identityResourceId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nodes` } });
    assert.equal(config.batch.accountUrl, 'https://acct.westus.batch.azure.com');
    assert.match(config.identity.resourceId!, /userAssignedIdentities\/nodes$/);
  });

  test('names the flag that holds a bad value', async () => {
    await assert.rejects(loadConfig({ env: {}, cwd: dir, flags: { account: 'Has Spaces' } }), /--account \(batch\.accountName\): expected 3-24 lowercase/);
  });

  test('refuses min nodes above max nodes', async () => {
    await assert.rejects(loadConfig({ env: { PIXBATCH_MIN_NODES: '5', PIXBATCH_MAX_NODES: '2' }, cwd: dir }), /batch\.minNodes/);
  });

  test('merges a price table from the file over the defaults, size by size', async () => {
    const file = await write('prices.json', {
      prices: { asOf: '2026-01-01', vm: { Standard_D2s_v3: { dedicated: 1, spot: 0.5, cores: 2 }, Standard_X9: { dedicated: 2, spot: 1, cores: 9 } } },
    });
    const config = await loadConfig({ flags: { config: file }, env: {}, cwd: dir });
    assert.equal(config.prices.asOf, '2026-01-01');
    assert.equal(config.prices.vm.Standard_D2s_v3!.dedicated, 1);
    assert.equal(config.prices.vm.Standard_X9!.cores, 9);
    assert.ok(config.prices.vm.Standard_F2s_v2, 'sizes the file does not mention keep their default price');
    assert.equal(config.prices.currency, 'USD');
  });

  test('lists every missing required field with where to set it', async () => {
    const config = await loadConfig({ env: {}, cwd: dir });
    assert.throws(
      () => requireConfig(config, ['azure.subscriptionId', 'batch.accountName']),
      (err: Error) => {
        assert.match(err.message, /azure\.subscriptionId \(set "azure\.subscriptionId" in pixbatch\.config\.json, AZURE_SUBSCRIPTION_ID, PIXBATCH_SUBSCRIPTION_ID, --subscription\)/);
        assert.match(err.message, /batch\.accountName/);
        return true;
      },
    );
  });

  test('writes a starter file that loads without errors', async () => {
    const path = join(dir, 'starter.json');
    await writeStarterConfig(path);
    const config = await loadConfig({ flags: { config: path }, env: {}, cwd: dir });
    assert.equal(config.storage.inputContainer, 'images');
    assert.match(config.identity.resourceId!, /userAssignedIdentities/);
  });

  test('the notify section names targets and mail settings, the environment overrides the sender, and bad values name the field', async () => {
    const file = await write('notify.json', {
      notify: { to: ['mailto:ops@example.com', 'https://hooks.example.com/x'], emailEndpoint: 'https://acs.communication.azure.com', emailSender: 'a@b.example' },
    });
    const config = await loadConfig({ env: { PIXBATCH_CONFIG: file, PIXBATCH_EMAIL_SENDER: 'env@b.example' }, cwd: dir });
    assert.deepEqual(config.notify, { to: ['mailto:ops@example.com', 'https://hooks.example.com/x'], emailEndpoint: 'https://acs.communication.azure.com', emailSender: 'env@b.example' });
    assert.deepEqual((await loadConfig({ env: {}, cwd: dir })).notify, { to: [] });
    const bad = await write('notify-bad.json', { notify: { to: ['ops@example.com'], emailEndpoint: 'http://acs.example' } });
    await assert.rejects(readConfigFile(bad), (e: Error) => e instanceof UsageError && /notify\.to\.0: expected an http\(s\):\/\/ URL or mailto:ADDRESS/.test(e.message) && /notify\.emailEndpoint: expected an https:\/\/ URL/.test(e.message));
    await assert.rejects(loadConfig({ env: { PIXBATCH_EMAIL_SENDER: 'nobody' }, cwd: dir }), /PIXBATCH_EMAIL_SENDER \(notify\.emailSender\): expected an email address/);
  });

  test('pixbatch init refuses to overwrite an existing file without --force', async () => {
    const path = join(dir, 'init.json');
    await writeFile(path, '{"keep": true}');
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await run(['node', 'pixbatch', 'init', path]);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(code, 2);
    assert.match(errors.join(''), /already exists; pass --force/);
    assert.equal(await readFile(path, 'utf8'), '{"keep": true}');

    const out = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      code = await run(['node', 'pixbatch', 'init', path, '--force', '--subscription', SUB]);
    } finally {
      process.stdout.write = out;
    }
    assert.equal(code, 0);
    const written = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(written.azure.subscriptionId, SUB);
  });
});
