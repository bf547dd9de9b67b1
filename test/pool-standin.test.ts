// The pool operations driven end to end against the loopback Resource Manager stand-in: resizing
// over several polls, quota and allocation failures, long-running deletes in both polling styles,
// and the `pixbatch batch pool` commands as a user runs them (a child process that signs in with a
// managed identity served by the stand-in).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startArmStandin, type ArmStandin, type ArmStandinOptions } from './arm-standin/server.js';
import { FixedTokenCredential } from './arm-standin/credential.js';
import { loadConfig } from '../src/config/load.js';
import { createPoolClient, type PoolTarget } from '../src/pool/client.js';
import { createPool, deletePool, getPool, PoolResizeError, setAutoscale, waitForSteady, type PoolState } from '../src/pool/operations.js';
import { JobError, UsageError } from '../src/errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUB = '11111111-2222-3333-4444-555555555555';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/imaging/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch-nodes`;
const spec = (dedicatedNodes: number, spotNodes: number, vmSize = 'Standard_D2s_v3') => ({ vmSize, dedicatedNodes, spotNodes, identityResourceId: IDENTITY });

async function withStandin(options: ArmStandinOptions, body: (standin: ArmStandin, target: PoolTarget) => Promise<void>, token?: string): Promise<void> {
  const standin = await startArmStandin(options);
  try {
    const config = await loadConfig({
      env: { AZURE_SUBSCRIPTION_ID: SUB, PIXBATCH_RESOURCE_GROUP: 'imaging', AZURE_BATCH_ACCOUNT: 'imagingbatch', PIXBATCH_ARM_ENDPOINT: standin.url },
      cwd: ROOT,
    });
    await body(standin, createPoolClient(config, { credential: new FixedTokenCredential(token ?? standin.token), ca: standin.ca }));
  } finally {
    await standin.close();
  }
}

describe('pools against the Resource Manager stand-in', () => {
  test('creates a pool and follows it through resizing until it is steady at its targets', async () => {
    await withStandin({ resizeSteps: 3 }, async (_standin, target) => {
      const first = await createPool(target, 'grow', spec(2, 4));
      assert.equal(first.allocationState, 'Resizing');
      const seen: PoolState[] = [];
      const final = await waitForSteady(target, 'grow', { pollIntervalMs: 1, onProgress: (s) => seen.push(s) });
      assert.deepEqual(seen.map((s) => s.allocationState), ['Resizing', 'Resizing', 'Steady']);
      assert.ok(seen[0]!.currentSpot < 4, 'nodes arrive over several polls');
      assert.deepEqual([final.currentDedicated, final.currentSpot, final.targetDedicated, final.targetSpot], [2, 4, 2, 4]);
    });
  });

  test('stops waiting at a dedicated core quota error and reports it in one line', async () => {
    await withStandin({ dedicatedCoreQuota: 4 }, async (_standin, target) => {
      await createPool(target, 'quota', spec(3, 0));
      await assert.rejects(waitForSteady(target, 'quota', { pollIntervalMs: 1, timeoutMs: 60_000 }), (err: Error) => {
        assert.ok(err instanceof PoolResizeError);
        assert.equal(err.lines.length, 1);
        assert.match(err.lines[0]!, /^AccountCoreQuotaReached: .*quota of 4 cores.* — .*quota increase/);
        assert.equal(err.state.currentDedicated, 2, 'the nodes that fit the quota were allocated');
        return true;
      });
    });
  });

  test('reports a spot quota of 0 and a dedicated quota error as two separate lines', async () => {
    await withStandin({ dedicatedCoreQuota: 2, spotCoreQuota: 0 }, async (_standin, target) => {
      await createPool(target, 'both', spec(2, 2));
      const err = await waitForSteady(target, 'both', { pollIntervalMs: 1 }).catch((e: unknown) => e);
      assert.ok(err instanceof PoolResizeError);
      assert.deepEqual(err.lines.map((l) => l.split(':')[0]), ['AccountCoreQuotaReached', 'AccountLowPriorityCoreQuotaReached']);
      assert.equal(err.message.split('\n').length, 3, 'a headline, then one line per error');
    });
  });

  test('reports an allocation failure instead of waiting out the resize timeout', async () => {
    await withStandin({ allocationFailure: true, resizeSteps: 2 }, async (_standin, target) => {
      await createPool(target, 'nocapacity', spec(1, 1));
      await assert.rejects(waitForSteady(target, 'nocapacity', { pollIntervalMs: 1 }), /AllocationFailed: .* — .*another VM size or region/);
    });
  });

  test('deletes through a Location long-running operation: 202, polls, then the pool is gone', async () => {
    await withStandin({ lroStyle: 'location', lroPolls: 3 }, async (standin, target) => {
      await createPool(target, 'gone', spec(0, 1));
      assert.equal(await deletePool(target, 'gone', { pollIntervalMs: 1 }), true);
      const polls = standin.requests.filter((r) => r.path.includes('/poolOperationResults/'));
      assert.equal(polls.length, 4);
      assert.equal(await getPool(target, 'gone'), undefined);
    });
  });

  test('deletes through an Azure-AsyncOperation long-running operation, polling its status until Succeeded', async () => {
    await withStandin({ lroStyle: 'azure-async-operation', lroPolls: 2 }, async (standin, target) => {
      await createPool(target, 'gone2', spec(0, 1));
      assert.equal(await deletePool(target, 'gone2', { pollIntervalMs: 1 }), true);
      assert.equal(standin.requests.filter((r) => r.path.includes('/poolOperationStatuses/')).length, 3);
      assert.equal(standin.requests.filter((r) => r.path.includes('/poolOperationResults/')).length, 0);
      assert.equal(await getPool(target, 'gone2'), undefined);
    });
  });

  test('says a pool did not exist rather than pretending to delete it', async () => {
    await withStandin({}, async (standin, target) => {
      assert.equal(await deletePool(target, 'never', { pollIntervalMs: 1 }), false);
      assert.equal(standin.requests.filter((r) => r.method === 'DELETE').length, 0);
    });
  });

  test('refuses to create over an existing pool', async () => {
    await withStandin({}, async (_standin, target) => {
      await createPool(target, 'twice', spec(0, 1));
      await assert.rejects(createPool(target, 'twice', spec(0, 2)), (err: Error) => err instanceof UsageError && /already exists/.test(err.message));
    });
  });

  test('asks for the pool before creating it, and still sends If-None-Match: * with the create', async () => {
    await withStandin({}, async (standin, target) => {
      await createPool(target, 'asked', spec(0, 1));
      const calls = standin.requests.filter((r) => r.path.endsWith('/pools/asked')).map((r) => r.method);
      assert.deepEqual(calls, ['GET', 'PUT']);
      assert.equal(standin.requests.find((r) => r.method === 'PUT')!.headers['if-none-match'], '*');
    });
  });

  test('names the permission on the managed identity when assigning it to the pool is refused', async () => {
    await withStandin({ identityAssignDenied: true }, async (_standin, target) => {
      await assert.rejects(createPool(target, 'noassign', spec(0, 1)), (err: Error) => {
        assert.ok(err instanceof JobError);
        assert.match(err.message, /LinkedAuthorizationFailed/);
        assert.match(err.message, /Managed Identity Operator \(Microsoft\.ManagedIdentity\/userAssignedIdentities\/\*\/assign\/action\) on that identity/);
        assert.ok(err.message.includes(IDENTITY), 'names the identity');
        return true;
      });
    });
  });

  test('turns a refused token into a sign-in hint', async () => {
    await withStandin(
      {},
      async (_standin, target) => {
        await assert.rejects(createPool(target, 'denied', spec(0, 1)), (err: Error) => err instanceof JobError && /not authorised .*az login/.test(err.message));
      },
      'wrong-token',
    );
  });

  test('passes a validation error from the service on as a usage error naming the property', async () => {
    await withStandin({}, async (_standin, target) => {
      await createPool(target, 'bad-interval', spec(0, 1));
      await assert.rejects(setAutoscale(target, 'bad-interval', '$TargetDedicatedNodes = 1;', 'PT1M'), (err: Error) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /evaluationInterval/);
        return true;
      });
    });
  });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('pixbatch batch pool (the command, signed in with a managed identity)', () => {
  let standin: ArmStandin;
  let env: Record<string, string>;

  before(async () => {
    standin = await startArmStandin({ resizeSteps: 2, spotCoreQuota: 0 });
    // A clean environment: only what a user would have set, plus the identity endpoint the
    // identity library finds on its own (as on App Service) and the stand-in's certificate.
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_EXTRA_CA_CERTS: standin.certPath,
      IDENTITY_ENDPOINT: standin.identityEndpoint,
      IDENTITY_HEADER: standin.identityHeader,
      AZURE_SUBSCRIPTION_ID: SUB,
      PIXBATCH_RESOURCE_GROUP: 'imaging',
      AZURE_BATCH_ACCOUNT: 'imagingbatch',
      PIXBATCH_ARM_ENDPOINT: standin.url,
      PIXBATCH_IDENTITY_ID: IDENTITY,
    };
  });
  after(async () => {
    await standin.close();
  });

  const cli = (...args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'batch', 'pool', ...args],
        { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr }),
      );
    });

  test('create prints progress while the pool resizes and exits 0 once it is steady', async () => {
    const r = await cli('create', '--pool', 'cli-ok', '--dedicated', '2', '--spot', '0', '--poll-interval', '0.01');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /pool cli-ok resizing: dedicated \d\/2, spot 0\/0/);
    assert.match(r.stderr, /pool cli-ok steady: dedicated 2\/2/);
    assert.match(r.stdout, /pool cli-ok is ready/);
    assert.match(r.stdout, /about \$0\.19 per hour while these nodes run \(list prices as of /, 'two dedicated Standard_D2s_v3 at the default price');
    const put = standin.requests.find((q) => q.method === 'PUT' && q.path.endsWith('/pools/cli-ok'));
    assert.equal(put?.body.identity.type, 'UserAssigned');
    // The role the pool's identity needs for scheduled runs, with the command that gives it on this account.
    assert.match(r.stderr, /"Azure Batch Job Submitter" on the Batch account[\s\S]*az role assignment create[\s\S]*--scope \/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Batch\/batchAccounts\/\w+/);
  });

  test('create exits 3 with one line per resize error when the spot quota is 0', async () => {
    const r = await cli('create', '--pool', 'cli-spot', '--dedicated', '0', '--spot', '3', '--poll-interval', '0.01');
    assert.equal(r.code, 3);
    const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('  AccountLowPriorityCoreQuotaReached:'));
    assert.equal(errorLines.length, 1, r.stderr);
    assert.match(errorLines[0]!, /request spot quota or use dedicated nodes/);
  });

  test('autoscale prints the generated formula and sets exactly that formula on the pool', async () => {
    const r = await cli('autoscale', '--pool', 'cli-ok', '--interval', '10m');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /evaluated every PT10M/);
    const patch = standin.requests.filter((q) => q.method === 'PATCH' && q.path.endsWith('/pools/cli-ok')).at(-1);
    const formula = patch?.body.properties.scaleSettings.autoScale.formula as string;
    assert.ok(formula.includes('$PendingTasks'));
    assert.ok(r.stdout.includes(formula), 'the printed formula is the one sent');
  });

  test('autoscale refuses an evaluation interval under five minutes without calling the service', async () => {
    const before = standin.requests.length;
    const r = await cli('autoscale', '--pool', 'cli-ok', '--interval', '2m', '--formula', '$TargetDedicatedNodes = 1;');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /between 5 minutes and 168 hours/);
    assert.equal(standin.requests.length, before);
  });

  test('delete refuses without --yes when there is no terminal to ask on', async () => {
    const r = await cli('delete', '--pool', 'cli-ok');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refusing to delete pool cli-ok without confirmation.*--yes/);
    assert.equal(standin.requests.filter((q) => q.method === 'DELETE').length, 0);
  });

  test('delete --yes deletes the pool and waits for the operation to finish', async () => {
    const r = await cli('delete', '--pool', 'cli-ok', '--yes', '--poll-interval', '0.01');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pool cli-ok deleted/);
    assert.ok(standin.requests.some((q) => q.path.includes('/poolOperationResults/delete-cli-ok-')));
    const show = await cli('show', '--pool', 'cli-ok');
    assert.equal(show.code, 2);
    assert.match(show.stderr, /pool cli-ok does not exist/);
  });
});
