// The stand-ins check what they receive and what they answer against the official OpenAPI
// definitions (BatchService.json 2024-07-01.20.0, BatchManagement.json 2023-11-01) and the autoscale
// documentation, so a client and a stand-in cannot quietly agree on a shape the service would refuse.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { BatchClient, BatchError, BatchSharedKeyCredential, type BatchJobSpec, type BatchTaskSpec } from '../src/batch/client.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';
import * as spec from './batch-standin/spec/batch-service.js';
import { checkRequest, responseDrift } from './batch-standin/spec/check.js';
import { startArmStandin, type ArmStandin } from './arm-standin/server.js';
import { PoolResponse, responseDrift as armResponseDrift } from './arm-standin/spec.js';
import { formulaProblems } from './arm-standin/formula.js';
import { rejectsWith } from './harness/batch-error.js';

const valueOf = (err: BatchError, key: string) => err.values?.find((v) => v.key === key)?.value;
const job = (id: string, extra: Record<string, unknown> = {}) => ({ id, poolInfo: { poolId: 'pixbatch-pool' }, ...extra }) as unknown as BatchJobSpec;
const task = (id: string, extra: Record<string, unknown> = {}) => ({ id, commandLine: 'true', ...extra }) as unknown as BatchTaskSpec;

describe('the Batch stand-in checks request bodies against BatchService.json', () => {
  let s: BatchStandIn;
  let batch: BatchClient;
  before(async () => {
    // No nodes: what is added stays queued; only the REST surface is exercised.
    s = await startBatchStandIn({ nodes: 0 });
    batch = new BatchClient(s.url, new BatchSharedKeyCredential(s.accountName, s.accountKey), { retryOptions: { maxRetries: 0 } });
  });
  after(() => s.stop());

  it('refuses a property JobAddParameter does not have with 400 UnsupportedProperty naming it', async () => {
    const err = await rejectsWith(batch.addJob(job('unknown-top', { priorty: 5 })), 400, 'UnsupportedProperty');
    assert.equal(valueOf(err, 'PropertyName'), 'priorty');
  });

  it('refuses an unknown property deep inside a task of a collection, naming its path', async () => {
    await batch.addJob(job('unknown-deep'));
    const bad = task('t1', { resourceFiles: [{ httpUrl: 'https://example.invalid/a', filePath: 'a', sasToken: 'x' }] });
    const err = await rejectsWith(batch.addTaskCollection('unknown-deep', [task('t0'), bad]), 400, 'UnsupportedProperty');
    assert.equal(valueOf(err, 'PropertyName'), 'value[1].resourceFiles[0].sasToken');
  });

  it('refuses enum values the definitions do not list with 400 InvalidPropertyValue', async () => {
    await batch.addJob(job('enums'));
    const scope = await rejectsWith(
      batch.addTaskCollection('enums', [task('t', { userIdentity: { autoUser: { scope: 'node', elevationLevel: 'nonadmin' } } })]),
      400,
      'InvalidPropertyValue',
    );
    assert.equal(valueOf(scope, 'PropertyName'), 'value[0].userIdentity.autoUser.scope');
    assert.equal(valueOf(scope, 'PropertyValue'), 'node');
    assert.match(valueOf(scope, 'Reason') ?? '', /task, pool/);
    const failure = await rejectsWith(batch.addJob(job('enum-job', { onTaskFailure: 'retry' })), 400, 'InvalidPropertyValue');
    assert.equal(valueOf(failure, 'PropertyName'), 'onTaskFailure');
    await rejectsWith(batch.patchJob('enums', { onAllTasksComplete: 'whenever' } as never), 400, 'InvalidPropertyValue');
  });

  it('refuses a task without commandLine with 400 MissingRequiredProperty', async () => {
    await batch.addJob(job('missing'));
    const err = await rejectsWith(batch.addTaskCollection('missing', [{ id: 'x' } as BatchTaskSpec]), 400, 'MissingRequiredProperty');
    assert.equal(valueOf(err, 'PropertyName'), 'value[0].commandLine');
  });

  it('refuses a userIdentity naming both a user and the auto user', async () => {
    await batch.addJob(job('both-users'));
    const both = task('t', { userIdentity: { username: 'me', autoUser: { scope: 'pool' } } });
    const err = await rejectsWith(batch.addTaskCollection('both-users', [both]), 400, 'InvalidPropertyValue');
    assert.equal(valueOf(err, 'PropertyName'), 'value[0].userIdentity');
  });

  it('accepts what the definitions allow and pixbatch does not send yet: requiredSlots, exitConditions, outputFiles, constraints, userIdentity', async () => {
    await batch.addJob(
      job('allowed', {
        maxParallelTasks: 4,
        allowTaskPreemption: false,
        jobPreparationTask: { commandLine: 'true', userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } } },
      }),
    );
    const results = await batch.addTaskCollection('allowed', [
      task('rich', {
        requiredSlots: 1,
        userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
        constraints: { maxWallClockTime: 'PT1H', retentionTime: 'P1D', maxTaskRetryCount: 2 },
        exitConditions: { exitCodes: [{ code: 3, exitOptions: { jobAction: 'none' } }], default: { dependencyAction: 'satisfy' } },
        outputFiles: [
          {
            filePattern: '*.log',
            destination: { container: { containerUrl: 'https://example.invalid/logs', identityReference: { resourceId: '/identities/x' } } },
            uploadOptions: { uploadCondition: 'TaskCompletion' },
          },
        ],
        environmentSettings: [{ name: 'ONLY_NAME' }],
      }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['success']);
    const [t] = await (async () => {
      const out = [];
      for await (const x of batch.listTasks('allowed')) out.push(x);
      return out;
    })();
    assert.deepEqual(responseDrift(spec.CloudTask, t), []);
  });

  it('refuses more than the 100 tasks TaskAddCollectionParameter allows, naming value', async () => {
    await batch.addJob(job('maxitems'));
    const many = Array.from({ length: 101 }, (_, i) => task(`t${i}`));
    const err = await rejectsWith(batch.addTaskCollection('maxitems', many), 400, 'InvalidPropertyValue');
    assert.equal(valueOf(err, 'PropertyName'), 'value');
    assert.equal(valueOf(err, 'PropertyValue'), '101');
  });

  it('refuses a schedule that recurs more often than once a minute', async () => {
    const err = await rejectsWith(
      batch.addJobSchedule({ id: 'fast', schedule: { recurrenceInterval: 'PT30S' }, jobSpecification: { poolInfo: { poolId: 'pixbatch-pool' } } } as never),
      400,
      'InvalidPropertyValue',
    );
    assert.equal(valueOf(err, 'PropertyName'), 'schedule.recurrenceInterval');
  });
});

describe('the response definitions catch a stand-in answer that drifts', () => {
  const task = { id: 't', state: 'completed', executionInfo: { retryCount: 0, requeueCount: 0, result: 'success', exitCode: 0 } };

  it('accepts a CloudTask as the definition describes it', () => {
    assert.deepEqual(responseDrift(spec.CloudTask, task), []);
  });

  it('names an unknown state, a missing required count and an unknown property', () => {
    const drift = responseDrift(spec.CloudTask, { ...task, state: 'finished', exitCode: 0, executionInfo: { retryCount: 0, result: 'success' } });
    assert.ok(drift.some((d) => d.startsWith('state: Expected one of active, preparing, running, completed')), drift.join('\n'));
    assert.ok(drift.some((d) => d.startsWith('executionInfo.requeueCount')), drift.join('\n'));
    assert.ok(drift.some((d) => d === 'body: unknown exitCode'), drift.join('\n'));
    assert.notDeepEqual(responseDrift(spec.TaskCountsResult, { taskCounts: { active: 1 } }), []);
  });

  it('parses a request to the definition spelling of enum values, as the service reads them case-insensitively', () => {
    const parsed = checkRequest(spec.JobAddParameter, job('j', { onAllTasksComplete: 'TerminateJob', onTaskFailure: 'performExitOptionsJobAction' }));
    assert.equal(parsed.onAllTasksComplete, 'terminatejob');
    assert.equal(parsed.onTaskFailure, 'performexitoptionsjobaction');
  });
});

describe('the Resource Manager stand-in checks pool bodies against BatchManagement.json and formulas against the autoscale page', () => {
  let arm: ArmStandin;
  const POOLS = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct/pools';
  const body = (properties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
    properties: {
      vmSize: 'Standard_D2s_v3',
      deploymentConfiguration: {
        virtualMachineConfiguration: {
          imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', version: 'latest' },
          nodeAgentSkuId: 'batch.node.ubuntu 22.04',
        },
      },
      scaleSettings: { fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 1 } },
      ...properties,
    },
    ...extra,
  });
  const send = (method: string, path: string, payload?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const text = payload === undefined ? '' : JSON.stringify(payload);
      const req = request(
        `${arm.url}${path}?api-version=2023-11-01`,
        { method, ca: arm.ca, headers: { authorization: `Bearer ${arm.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined });
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  before(async () => {
    arm = await startArmStandin({ resizeSteps: 1 });
  });
  after(() => arm.close());

  it('creates a pool from a conforming body and answers with a Pool that conforms too', async () => {
    const r = await send('PUT', `${POOLS}/ok`, body({}, { identity: { type: 'UserAssigned', userAssignedIdentities: { '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id': {} } } }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(armResponseDrift(PoolResponse, r.body), []);
    const got = await send('GET', `${POOLS}/ok`);
    assert.deepEqual(armResponseDrift(PoolResponse, got.body), []);
  });

  it('refuses a member Pool does not have with 400 InvalidRequestContent and its target', async () => {
    const r = await send('PUT', `${POOLS}/typo`, body({ maxTasksPerNode: 2 }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'InvalidRequestContent');
    assert.equal(r.body.error.target, 'properties.maxTasksPerNode');
    const deep = await send('PUT', `${POOLS}/typo2`, body({ scaleSettings: { fixedScale: { targetDedicatedNodes: 1, targetSpotNodes: 1 } } }));
    assert.equal(deep.body.error.target, 'properties.scaleSettings.fixedScale.targetSpotNodes');
  });

  it('refuses enum values the definitions do not list', async () => {
    const identity = await send('PUT', `${POOLS}/sys`, body({}, { identity: { type: 'SystemAssigned' } }));
    assert.equal(identity.status, 400);
    assert.equal(identity.body.error.target, 'identity.type');
    const option = await send('PUT', `${POOLS}/opt`, body({ scaleSettings: { fixedScale: { targetDedicatedNodes: 1, nodeDeallocationOption: 'Drain' } } }));
    assert.equal(option.body.error.target, 'properties.scaleSettings.fixedScale.nodeDeallocationOption');
    assert.match(option.body.error.message, /Requeue, Terminate, TaskCompletion, RetainedData/);
  });

  it('refuses a formula with a function, variable or method the autoscale page does not list', async () => {
    for (const [formula, why] of [
      ['$TargetDedicatedNodes = ceil($PendingTasks.GetSample(1));', /unknown function ceil\(\)/],
      ['$TargetDedicatedNodes = $PendingTask.GetSample(1);', /unknown variable \$PendingTask/],
      ['$TargetDedicatedNodes = max($PendingTasks.GetLastSample());', /unknown method GetLastSample\(\)/],
      ['$PendingTasks = 4;', /\$PendingTasks is read-only/],
      ['$TargetDedicatedNodes = nodes; nodes = 3;', /nodes is read before it is assigned/],
    ] as const) {
      const r = await send('PUT', `${POOLS}/formula`, body({ scaleSettings: { autoScale: { formula, evaluationInterval: 'PT5M' } } }));
      assert.equal(r.status, 400, formula);
      assert.equal(r.body.error.target, 'properties.scaleSettings.autoScale.formula');
      assert.match(r.body.error.message, why);
    }
  });

  it("accepts the page's own sample formulas, comments and all", async () => {
    const samples = [
      'startingNumberOfVMs = 1;\nmaxNumberofVMs = 25;\npendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);\npendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));\n$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);\n$NodeDeallocationOption = taskcompletion;',
      '$curTime = time();\n$workHours = $curTime.hour >= 8 && $curTime.hour < 18;\n$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;\n$isWorkingWeekdayHour = $workHours && $isWeekday;\n$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;\n$NodeDeallocationOption = taskcompletion;',
      '// Get pending tasks for the past 15 minutes.\n$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);\n// If we have fewer than 70 percent data points, we use the last sample point,\n$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));\n$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);\n$TargetDedicatedNodes = max(0, min($targetVMs, 20));\n$NodeDeallocationOption = taskcompletion;',
    ];
    for (const [i, formula] of samples.entries()) {
      assert.deepEqual(formulaProblems(formula), [], formula);
      const r = await send('PUT', `${POOLS}/sample${i}`, body({ scaleSettings: { autoScale: { formula } } }));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });
});
