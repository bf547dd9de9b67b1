// Request bodies of the pool operations, as they arrive on the wire, against the shapes of the
// examples in the Microsoft.Batch REST reference (PoolCreate_UserAssignedIdentities,
// PoolUpdate_ResizePool, PoolUpdate_EnableAutoScale, PoolDisableAutoScale, PoolDelete).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArmStandin, type ArmStandin, type RecordedRequest } from './arm-standin/server.js';
import { FixedTokenCredential } from './arm-standin/credential.js';
import { loadConfig } from '../src/config/load.js';
import { createPoolClient, type PoolTarget } from '../src/pool/client.js';
import { createPool, deletePool, resizePool, setAutoscale } from '../src/pool/operations.js';
import { autoscaleFormula, parseEvaluationInterval } from '../src/pool/formula.js';
import { describeResizeError } from '../src/pool/resize-errors.js';
import { UsageError } from '../src/errors.js';
import { formulaProblems } from './arm-standin/formula.js';

const SUB = '11111111-2222-3333-4444-555555555555';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/imaging/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch-nodes`;
const POOL_URL = `/subscriptions/${SUB}/resourceGroups/imaging/providers/Microsoft.Batch/batchAccounts/imagingbatch/pools`;

describe('pool request bodies', () => {
  let standin: ArmStandin;
  let target: PoolTarget;
  let credential: FixedTokenCredential;

  before(async () => {
    standin = await startArmStandin({ resizeSteps: 1 });
    credential = new FixedTokenCredential(standin.token);
    const config = await loadConfig({
      env: { AZURE_SUBSCRIPTION_ID: SUB, PIXBATCH_RESOURCE_GROUP: 'imaging', AZURE_BATCH_ACCOUNT: 'imagingbatch', PIXBATCH_ARM_ENDPOINT: standin.url },
      cwd: '/',
    });
    target = createPoolClient(config, { credential, ca: standin.ca });
  });
  after(async () => {
    await standin.close();
  });

  const sent = (method: string, suffix = ''): RecordedRequest[] =>
    standin.requests.filter((r) => r.method === method && r.path.toLowerCase().endsWith(suffix.toLowerCase()));

  test('create sends the Pool_Create shape: user-assigned identity, Ubuntu 22.04 image and agent, fixed dedicated + spot targets, one task slot', async () => {
    await createPool(target, 'shape-create', { vmSize: 'Standard_D2s_v3', dedicatedNodes: 1, spotNodes: 3, identityResourceId: IDENTITY });
    const [req] = sent('PUT', '/pools/shape-create');
    assert.ok(req, 'a PUT reached the pool URL');
    assert.equal(req.path, `${POOL_URL}/shape-create`);
    assert.deepEqual(req.body, {
      identity: {
        type: 'UserAssigned',
        userAssignedIdentities: { [IDENTITY]: {} },
      },
      properties: {
        vmSize: 'Standard_D2s_v3',
        deploymentConfiguration: {
          virtualMachineConfiguration: {
            imageReference: {
              publisher: 'canonical',
              offer: '0001-com-ubuntu-server-jammy',
              sku: '22_04-lts',
              version: 'latest',
            },
            nodeAgentSkuId: 'batch.node.ubuntu 22.04',
          },
        },
        scaleSettings: {
          fixedScale: {
            targetDedicatedNodes: 1,
            targetLowPriorityNodes: 3,
            resizeTimeout: 'PT15M',
          },
        },
        taskSlotsPerNode: 1,
      },
    });
    assert.match(req.query['api-version']!, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(req.headers['if-none-match'], '*', 'create never replaces an existing pool');
    assert.equal(req.headers.authorization, `Bearer ${standin.token}`);
    assert.deepEqual([...new Set(credential.scopes)], [`${standin.url}/.default`]);
  });

  test('resize sends the Pool_Update fixedScale shape and lets running tasks finish', async () => {
    await createPool(target, 'shape-resize', { vmSize: 'Standard_D2s_v3', dedicatedNodes: 0, spotNodes: 1, identityResourceId: IDENTITY });
    await resizePool(target, 'shape-resize', 5, 0);
    const [req] = sent('PATCH', '/pools/shape-resize');
    assert.ok(req);
    assert.deepEqual(req.body, {
      properties: {
        scaleSettings: {
          fixedScale: {
            nodeDeallocationOption: 'TaskCompletion',
            resizeTimeout: 'PT15M',
            targetDedicatedNodes: 5,
            targetLowPriorityNodes: 0,
          },
        },
      },
    });
    assert.equal(sent('POST', '/pools/shape-resize/disableAutoScale').length, 0, 'a fixed-size pool needs no disableAutoScale');
  });

  test('autoscale sends the Pool_Update autoScale shape with formula and evaluation interval', async () => {
    await createPool(target, 'shape-auto', { vmSize: 'Standard_D2s_v3', dedicatedNodes: 0, spotNodes: 1, identityResourceId: IDENTITY });
    const formula = autoscaleFormula({ minNodes: 0, maxNodes: 8, spotShare: 0.5 });
    await setAutoscale(target, 'shape-auto', formula, 'PT5M');
    const [req] = sent('PATCH', '/pools/shape-auto');
    assert.ok(req);
    assert.deepEqual(req.body, {
      properties: {
        scaleSettings: {
          autoScale: {
            formula,
            evaluationInterval: 'PT5M',
          },
        },
      },
    });
  });

  test('create with autoscale sends the autoScale shape of the PoolCreate_UserAssignedIdentities example instead of fixedScale', async () => {
    const formula = autoscaleFormula({ minNodes: 0, maxNodes: 4, spotShare: 1 });
    await createPool(target, 'shape-create-auto', {
      ...{ vmSize: 'Standard_D2s_v3', dedicatedNodes: 0, spotNodes: 0, identityResourceId: IDENTITY },
      autoScale: { formula, evaluationInterval: 'PT5M' },
    });
    const [req] = sent('PUT', '/pools/shape-create-auto');
    assert.deepEqual(req!.body.properties.scaleSettings, { autoScale: { formula, evaluationInterval: 'PT5M' } });
  });

  test('resizing an autoscaled pool first posts disableAutoScale with no body, then the fixed size', async () => {
    await resizePool(target, 'shape-auto', 2, 2);
    const order = standin.requests.filter((r) => r.path.toLowerCase().includes('/pools/shape-auto') && r.method !== 'GET').map((r) => `${r.method} ${r.path.split('/').slice(-1)[0]}`);
    assert.deepEqual(order.slice(-2), ['POST disableAutoScale', 'PATCH shape-auto']);
    const [post] = sent('POST', '/pools/shape-auto/disableAutoScale');
    assert.equal(post!.body, undefined);
  });

  test('delete sends a bodiless DELETE and polls the Location from the 202 until it answers 200', async () => {
    await createPool(target, 'shape-delete', { vmSize: 'Standard_D2s_v3', dedicatedNodes: 0, spotNodes: 1, identityResourceId: IDENTITY });
    assert.equal(await deletePool(target, 'shape-delete', { pollIntervalMs: 1 }), true);
    const [del] = sent('DELETE', '/pools/shape-delete');
    assert.ok(del);
    assert.equal(del.body, undefined);
    const polls = standin.requests.filter((r) => r.path.includes('/poolOperationResults/delete-shape-delete-'));
    assert.equal(polls.length, 3, 'two 202 answers, then 200');
    assert.ok(polls.every((p) => p.query['api-version'] === del.query['api-version']));
  });
});

describe('autoscale formula', () => {
  test('scales from pending tasks between min and max with the spot share, releasing nodes only when their task completes', () => {
    const f = autoscaleFormula({ minNodes: 1, maxNodes: 20, spotShare: 0.75 });
    assert.match(f, /\$wanted = max\(1, min\(20, \$tasks\)\);/);
    assert.match(f, /\$TargetLowPriorityNodes = \$spotNodes;/);
    assert.match(f, /\$TargetDedicatedNodes = \$nodes - \$spotNodes;/);
    assert.match(f, /\$NodeDeallocationOption = taskcompletion;/);
  });

  test('reads no sample until 70% of them exist, as the guard of the documented "Pending tasks" sample does', () => {
    const f = autoscaleFormula({ minNodes: 2, maxNodes: 20, spotShare: 0.5, sampleMinutes: 3 });
    const lines = f.split('\n');
    assert.equal(lines[1], '$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 3);');
    assert.match(lines[2]!, /^\$tasks = \$samples < 70 \? 2 : max\(\$PendingTasks\.GetSample\(1\), avg\(\$PendingTasks\.GetSample\(TimeInterval_Minute \* 3\)\)\);$/);
    assert.equal(lines.filter((l) => l.includes('GetSample(')).length, 1, 'GetSample is only called on the far side of the guard');
  });

  test('uses only the variables, functions and methods the autoscale page documents, with // comments', () => {
    for (const spotShare of [0, 0.3, 0.75, 1]) {
      for (const maxNodes of [1, 7, 20, 1000]) {
        const f = autoscaleFormula({ minNodes: 0, maxNodes, spotShare });
        assert.deepEqual(formulaProblems(f), [], f);
        assert.ok(f.split(';').length <= 100 && f.length <= 8192, 'within 100 statements and 8 KB');
      }
    }
    const statements = autoscaleFormula({ minNodes: 0, maxNodes: 9, spotShare: 0.5 }).split('\n').filter((l) => !l.startsWith('//'));
    assert.doesNotMatch(statements.join('\n'), /floor|ceil|round/);
  });

  test('asks for whole nodes: pending tasks rounded up, the spot share rounded down, the two adding up', () => {
    // The arithmetic after the sample reads is also JavaScript: comparisons give true/false, which add as 1/0.
    const evaluate = (formula: string, tasks: number) => {
      const body = formula.split('\n').filter((l) => !l.startsWith('//') && !l.includes('GetSample'));
      const names = [...new Set(formula.match(/\$[A-Za-z]+/g))].filter((n) => n !== '$tasks' && !n.startsWith('$Pending'));
      const run = new Function('max', 'min', '$tasks', `let ${names.join(', ')}; const taskcompletion = 'taskcompletion'; ${body.join('\n')}; return [$TargetDedicatedNodes, $TargetLowPriorityNodes];`);
      return run(Math.max, Math.min, tasks) as [number, number];
    };
    for (const spotShare of [0, 0.3, 0.5, 0.75, 1]) {
      const f = autoscaleFormula({ minNodes: 1, maxNodes: 13, spotShare });
      for (let tasks = 0; tasks <= 16; tasks += 0.5) {
        const nodes = Math.max(1, Math.min(13, Math.ceil(tasks)));
        const spot = Math.floor(nodes * Number(spotShare.toFixed(4)));
        assert.deepEqual(evaluate(f, tasks), [nodes - spot, spot], `share ${spotShare}, ${tasks} pending tasks`);
      }
    }
  });

  test('refuses min above max and a spot share outside 0-1', () => {
    assert.throws(() => autoscaleFormula({ minNodes: 5, maxNodes: 2, spotShare: 1 }), UsageError);
    assert.throws(() => autoscaleFormula({ minNodes: 0, maxNodes: 2, spotShare: 1.5 }), /spot-share/);
  });

  test('accepts evaluation intervals of at least five minutes, in ISO or short form', () => {
    assert.equal(parseEvaluationInterval(undefined), 'PT5M');
    assert.equal(parseEvaluationInterval('5m'), 'PT5M');
    assert.equal(parseEvaluationInterval('PT90M'), 'PT1H30M');
    assert.equal(parseEvaluationInterval('1h'), 'PT1H');
    assert.equal(parseEvaluationInterval('15'), 'PT15M');
    assert.throws(() => parseEvaluationInterval('4m'), /between 5 minutes and 168 hours/);
    assert.throws(() => parseEvaluationInterval('PT1M'), UsageError);
    assert.throws(() => parseEvaluationInterval('200h'), UsageError);
  });
});

describe('resize errors', () => {
  test('describes each known error code in one line with what to do about it', () => {
    const lines = [
      { code: 'AccountCoreQuotaReached', message: 'The specified account has reached core quota' },
      { code: 'AccountSpotCoreQuotaReached', message: 'The specified account has reached spot core quota' },
      { code: 'AllocationFailed', message: 'Desired number of nodes could not be allocated', details: [{ code: 'Reason', message: 'no capacity' }] },
    ].map(describeResizeError);
    for (const line of lines) assert.equal(line.includes('\n'), false);
    assert.match(lines[0]!, /^AccountCoreQuotaReached: .* — .*quota increase/);
    assert.match(lines[1]!, /spot cores/);
    assert.match(lines[2]!, /\(Reason: no capacity\) — .*another VM size/);
  });

  test('keeps an unknown code and message as the service sent them', () => {
    assert.equal(describeResizeError({ code: 'SomethingNew', message: 'odd  \n thing' }), 'SomethingNew: odd thing');
  });
});
