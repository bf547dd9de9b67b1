// A loopback stand-in for the Azure Resource Manager pool operations of Microsoft.Batch
// (Pool_Create, Pool_Get, Pool_Update, Pool_DisableAutoScale, Pool_Delete), behaving as the REST
// reference documents: it checks the bearer token and api-version, validates bodies and rejects
// what the service rejects, resizes pools over a few polls, reports quota and allocation failures
// as resizeOperationStatus.errors once the pool is steady, and runs Pool_Delete as a long-running
// operation (202 + Location or Azure-AsyncOperation, polled until done).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoopbackServer } from '../harness/loopback-server.js';
import { makeCertificate } from './tls.js';
import { CloudError, firstProblem, PoolRequest, PoolResponse, responseDrift } from './spec.js';
import { formulaProblems } from './formula.js';

export interface ArmStandinOptions {
  /** The bearer token accepted (default `arm-standin-token`). */
  token?: string;
  /** GETs of a resizing pool before it turns steady (default 2). */
  resizeSteps?: number;
  /** Core quotas of the Batch account (default 100 dedicated, 100 spot). */
  dedicatedCoreQuota?: number;
  spotCoreQuota?: number;
  /** Every allocation fails as if the region had no capacity. */
  allocationFailure?: boolean;
  /** How Pool_Delete answers (default `location`, as in the PoolDelete example). */
  lroStyle?: 'location' | 'azure-async-operation';
  /** Status polls answered "still running" before a delete completes (default 2). */
  lroPolls?: number;
  /** Retry-After seconds on 202 answers (default 0, so tests do not wait). */
  retryAfterSeconds?: number;
  /** The caller may write pools but lacks the assign action on user-assigned identities. */
  identityAssignDenied?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: any;
}

interface ResizeError {
  code: string;
  message: string;
}

interface PoolRecord {
  name: string;
  id: string;
  etag: number;
  properties: Record<string, any>;
  identity?: any;
  allocationState: 'Steady' | 'Resizing';
  stepsLeft: number;
  current: { dedicated: number; spot: number };
  reachable: { dedicated: number; spot: number };
  resize?: { targetDedicatedNodes: number; targetLowPriorityNodes: number; resizeTimeout: string; nodeDeallocationOption: string; startTime: string; errors?: ResizeError[] };
  pendingErrors: ResizeError[];
  deleting: boolean;
}

interface Operation {
  id: string;
  pollsLeft: number;
  pool: string;
}

export interface ArmStandin {
  /** `https://127.0.0.1:PORT`, the Resource Manager endpoint to configure. */
  url: string;
  /** PEM of the certificate the stand-in serves, to trust it. */
  ca: string;
  certPath: string;
  token: string;
  /** For managed identity via IDENTITY_ENDPOINT / IDENTITY_HEADER (App Service style). */
  identityEndpoint: string;
  identityHeader: string;
  requests: RecordedRequest[];
  options: ArmStandinOptions;
  close(): Promise<void>;
}

const POOL_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)\/pools\/([^/]+)(\/disableAutoScale|\/stopResize)?$/i;
const OPERATION_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)\/(poolOperationResults|poolOperationStatuses)\/([^/]+)$/i;
const IDENTITY_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i;
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

class ArmError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly target?: string) {
    super(message);
  }
}

function isoSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(value);
  if (!m || (!m[1] && !m[2] && !m[3])) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function coresOf(vmSize: string): number {
  const m = /^standard_[a-z]+?(\d+)/i.exec(vmSize);
  return m ? Number(m[1]) : 1;
}

function invalid(target: string, message: string): ArmError {
  return new ArmError(400, 'InvalidRequestBody', `The value provided for ${target} is invalid: ${message}`, target);
}

function checkCount(value: unknown, target: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(target, 'expected a non-negative integer');
  return value;
}

/** Validates scaleSettings as the service does; returns the fixed targets if any. */
function checkScaleSettings(scale: any): { dedicated: number; spot: number; resizeTimeout: string; nodeDeallocationOption: string } | 'auto' | undefined {
  if (scale === undefined) return undefined;
  if (typeof scale !== 'object' || scale === null) throw invalid('properties.scaleSettings', 'expected an object');
  if (scale.fixedScale && scale.autoScale) throw invalid('properties.scaleSettings', 'fixedScale and autoScale are mutually exclusive');
  if (scale.autoScale) {
    const a = scale.autoScale;
    if (typeof a.formula !== 'string' || a.formula.trim() === '') throw invalid('properties.scaleSettings.autoScale.formula', 'a formula is required');
    if (a.formula.length > 8192) throw invalid('properties.scaleSettings.autoScale.formula', 'longer than 8 KB');
    if (a.evaluationInterval !== undefined) {
      const s = isoSeconds(a.evaluationInterval);
      if (s === undefined || s < 300 || s > 168 * 3600) throw invalid('properties.scaleSettings.autoScale.evaluationInterval', 'must be between PT5M and PT168H');
    }
    return 'auto';
  }
  if (scale.fixedScale) {
    const f = scale.fixedScale;
    const dedicated = checkCount(f.targetDedicatedNodes, 'properties.scaleSettings.fixedScale.targetDedicatedNodes');
    const spot = checkCount(f.targetLowPriorityNodes, 'properties.scaleSettings.fixedScale.targetLowPriorityNodes');
    if (f.targetDedicatedNodes === undefined && f.targetLowPriorityNodes === undefined) {
      throw invalid('properties.scaleSettings.fixedScale', 'at least one of targetDedicatedNodes, targetLowPriorityNodes must be set');
    }
    const timeout = f.resizeTimeout ?? 'PT15M';
    const s = isoSeconds(timeout);
    if (s === undefined || s < 300) throw invalid('properties.scaleSettings.fixedScale.resizeTimeout', 'the minimum is 5 minutes');
    const option = f.nodeDeallocationOption ?? 'Requeue';
    if (!['Requeue', 'Terminate', 'TaskCompletion', 'RetainedData'].includes(option)) throw invalid('properties.scaleSettings.fixedScale.nodeDeallocationOption', `unknown option ${option}`);
    return { dedicated, spot, resizeTimeout: timeout, nodeDeallocationOption: option };
  }
  throw invalid('properties.scaleSettings', 'one of fixedScale or autoScale is required');
}

function checkCreateBody(body: any): void {
  if (!body || typeof body !== 'object' || typeof body.properties !== 'object') throw invalid('properties', 'the request body must have properties');
  const p = body.properties;
  if (typeof p.vmSize !== 'string' || !p.vmSize) throw invalid('properties.vmSize', 'vmSize is required');
  const vm = p.deploymentConfiguration?.virtualMachineConfiguration;
  if (!vm) throw invalid('properties.deploymentConfiguration.virtualMachineConfiguration', 'virtualMachineConfiguration is required');
  const image = vm.imageReference;
  if (!image || (!image.id && (!image.publisher || !image.offer || !image.sku))) {
    throw invalid('properties.deploymentConfiguration.virtualMachineConfiguration.imageReference', 'publisher, offer and sku (or id) are required');
  }
  if (typeof vm.nodeAgentSkuId !== 'string' || !vm.nodeAgentSkuId) {
    throw invalid('properties.deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId', 'nodeAgentSkuId is required');
  }
  if (p.taskSlotsPerNode !== undefined && (!Number.isInteger(p.taskSlotsPerNode) || p.taskSlotsPerNode < 1 || p.taskSlotsPerNode > 256)) {
    throw invalid('properties.taskSlotsPerNode', 'must be between 1 and 256');
  }
  if (p.scaleSettings === undefined) throw invalid('properties.scaleSettings', 'scaleSettings is required');
  checkScaleSettings(p.scaleSettings);
  if (body.identity !== undefined) {
    const id = body.identity;
    if (!['UserAssigned', 'None'].includes(id.type)) throw invalid('identity.type', 'must be UserAssigned or None');
    if (id.type === 'UserAssigned') {
      const keys = Object.keys(id.userAssignedIdentities ?? {});
      if (!keys.length) throw invalid('identity.userAssignedIdentities', 'at least one identity is required for UserAssigned');
      for (const k of keys) if (!IDENTITY_ID.test(k)) throw invalid('identity.userAssignedIdentities', `${k} is not a user-assigned identity resource id`);
    }
  }
}

/**
 * Checks a Pool_Create or Pool_Update body against the Pool definition, and an autoscale formula
 * against the names the autoscale documentation lists.
 */
function checkPoolBody(body: unknown): void {
  const problem = firstProblem(PoolRequest, body);
  if (problem?.message.startsWith('Could not find member')) {
    // Resource Manager's answer to a member it cannot deserialize.
    throw new ArmError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: ${problem.message}`, problem.target);
  }
  if (problem) throw invalid(problem.target, problem.message);
  const formula = (body as { properties?: { scaleSettings?: { autoScale?: { formula?: string } } } }).properties?.scaleSettings?.autoScale?.formula;
  const names = formula === undefined ? [] : formulaProblems(formula);
  if (names.length) throw invalid('properties.scaleSettings.autoScale.formula', names.join('; '));
}

/** Starts the stand-in on an HTTPS loopback port. */
export async function startArmStandin(options: ArmStandinOptions = {}): Promise<ArmStandin> {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-arm-'));
  const { key, cert, certPath } = makeCertificate(dir);
  const token = options.token ?? 'arm-standin-token';
  const identityHeader = 'arm-standin-identity-header';
  const pools = new Map<string, PoolRecord>();
  const operations = new Map<string, Operation>();
  const requests: RecordedRequest[] = [];
  let sequence = 0;
  let base = '';

  const resizeSteps = () => options.resizeSteps ?? 2;

  /** Starts a resize towards fixed targets, working out what the quotas and capacity allow. */
  function startResize(pool: PoolRecord, target: { dedicated: number; spot: number; resizeTimeout: string; nodeDeallocationOption: string }): void {
    const cores = coresOf(pool.properties.vmSize);
    const errors: ResizeError[] = [];
    let dedicated = target.dedicated;
    let spot = target.spot;
    const dq = options.dedicatedCoreQuota ?? 100;
    const sq = options.spotCoreQuota ?? 100;
    if (options.allocationFailure && dedicated + spot > 0) {
      errors.push({ code: 'AllocationFailed', message: 'Desired number of dedicated nodes could not be allocated due to insufficient capacity in the region.' });
      dedicated = 0;
      spot = 0;
    }
    if (dedicated * cores > dq) {
      errors.push({ code: 'AccountCoreQuotaReached', message: `The specified account has reached its dedicated core quota of ${dq} cores.` });
      dedicated = Math.floor(dq / cores);
    }
    if (spot * cores > sq) {
      errors.push({ code: 'AccountLowPriorityCoreQuotaReached', message: `The specified account has reached its low priority core quota of ${sq} cores.` });
      spot = Math.floor(sq / cores);
    }
    pool.reachable = { dedicated, spot };
    pool.pendingErrors = errors;
    pool.allocationState = 'Resizing';
    pool.stepsLeft = resizeSteps();
    pool.resize = {
      targetDedicatedNodes: target.dedicated,
      targetLowPriorityNodes: target.spot,
      resizeTimeout: target.resizeTimeout,
      nodeDeallocationOption: target.nodeDeallocationOption,
      startTime: new Date().toISOString(),
    };
  }

  /** One GET's worth of progress: nodes move towards what is reachable; errors show once steady. */
  function advance(pool: PoolRecord): void {
    if (pool.allocationState !== 'Resizing') return;
    pool.stepsLeft -= 1;
    if (pool.stepsLeft > 0) {
      pool.current.dedicated = Math.ceil((pool.current.dedicated + pool.reachable.dedicated) / 2);
      pool.current.spot = Math.ceil((pool.current.spot + pool.reachable.spot) / 2);
      return;
    }
    pool.current = { ...pool.reachable };
    pool.allocationState = 'Steady';
    if (pool.resize && pool.pendingErrors.length) pool.resize.errors = pool.pendingErrors;
  }

  function render(pool: PoolRecord): any {
    return {
      id: pool.id,
      name: pool.name,
      type: 'Microsoft.Batch/batchAccounts/pools',
      etag: `W/"0x${pool.etag.toString(16).toUpperCase()}"`,
      properties: {
        ...pool.properties,
        provisioningState: pool.deleting ? 'Deleting' : 'Succeeded',
        allocationState: pool.allocationState,
        currentDedicatedNodes: pool.current.dedicated,
        currentLowPriorityNodes: pool.current.spot,
        ...(pool.resize ? { resizeOperationStatus: pool.resize } : {}),
      },
      ...(pool.identity
        ? {
            identity: {
              type: pool.identity.type,
              userAssignedIdentities: Object.fromEntries(
                Object.keys(pool.identity.userAssignedIdentities ?? {}).map((k, i) => [k, { principalId: `principal-${i}`, clientId: `client-${i}` }]),
              ),
            },
          }
        : {}),
    };
  }

  function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    // An answer that drifts from its OpenAPI definition is the stand-in's bug: answer 500 so the test fails.
    const schema = status >= 400 ? CloudError : (body as { type?: string } | undefined)?.type === 'Microsoft.Batch/batchAccounts/pools' ? PoolResponse : undefined;
    const drift = schema && body !== undefined ? responseDrift(schema, body) : [];
    if (drift.length) {
      process.stderr.write(`arm stand-in: answer drifts from the spec: ${drift.join('; ')}\n`);
      status = 500;
      body = { error: { code: 'InternalServerError', message: `stand-in answer drifts from the spec: ${drift.join('; ')}` } };
    }
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      'content-length': Buffer.byteLength(text),
      'x-ms-request-id': `req-${++sequence}`,
      ...headers,
    });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', base);
    const query = Object.fromEntries(url.searchParams);
    let body: any;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new ArmError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
      }
    }
    requests.push({ method: req.method ?? '', path: url.pathname, query, headers: req.headers, body });

    if (url.pathname === '/msi/token') {
      if (req.headers['x-identity-header'] !== identityHeader) throw new ArmError(401, 'Unauthorized', 'missing X-IDENTITY-HEADER');
      send(res, 200, { access_token: token, expires_on: Math.floor(Date.now() / 1000) + 3600, resource: query.resource, token_type: 'Bearer' });
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      throw new ArmError(401, 'AuthenticationFailed', 'Authentication failed. The Authorization header is missing or the token is not valid.');
    }
    if (!query['api-version']) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if (!API_VERSION.test(query['api-version'])) throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${query['api-version']}' is invalid.`);

    const op = OPERATION_PATH.exec(url.pathname);
    if (op && req.method === 'GET') {
      const operation = operations.get(op[5]!);
      if (!operation) throw new ArmError(404, 'NotFound', 'The operation was not found.');
      operation.pollsLeft -= 1;
      const done = operation.pollsLeft < 0;
      if (done) pools.delete(operation.pool.toLowerCase());
      const retry = { 'retry-after': String(options.retryAfterSeconds ?? 0) };
      if (op[4]!.toLowerCase() === 'pooloperationstatuses') {
        send(res, 200, { id: operation.id, status: done ? 'Succeeded' : 'InProgress' }, done ? {} : retry);
      } else if (done) {
        send(res, 200);
      } else {
        send(res, 202, undefined, { location: `${base}${url.pathname}${url.search}`, ...retry });
      }
      return;
    }

    const m = POOL_PATH.exec(url.pathname);
    if (!m) throw new ArmError(404, 'NotFound', `No route for ${req.method} ${url.pathname}`);
    const [, sub, rg, account, name, action] = m as unknown as [string, string, string, string, string, string | undefined];
    const key = name.toLowerCase();
    const existing = pools.get(key);
    const id = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Batch/batchAccounts/${account}/pools/${name}`;
    const notFound = () => new ArmError(404, 'PoolNotFound', `The specified pool ${name} does not exist.`);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new ArmError(400, 'InvalidPoolName', `The pool name ${name} is invalid.`);

    if (action) {
      if (req.method !== 'POST') throw new ArmError(405, 'MethodNotAllowed', 'Use POST');
      if (!existing || existing.deleting) throw notFound();
      if (action.toLowerCase() === '/disableautoscale') {
        existing.properties.scaleSettings = {
          fixedScale: { targetDedicatedNodes: existing.current.dedicated, targetLowPriorityNodes: existing.current.spot, resizeTimeout: 'PT15M' },
        };
        delete existing.properties.autoScaleRun;
      } else if (existing.allocationState === 'Resizing') {
        existing.allocationState = 'Steady';
        existing.resize = { ...existing.resize!, errors: [{ code: 'ResizeStopped', message: 'The resize operation was stopped by the user.' }] };
      }
      existing.etag += 1;
      send(res, 200, render(existing));
      return;
    }

    if ((req.method === 'PUT' || req.method === 'PATCH') && body !== undefined) checkPoolBody(body);
    switch (req.method) {
      case 'PUT': {
        if (existing && req.headers['if-none-match'] === '*') throw new ArmError(412, 'PreconditionFailed', `The pool ${name} already exists.`);
        if (existing?.deleting) throw new ArmError(409, 'PoolBeingDeleted', `The pool ${name} is being deleted.`);
        const identities = Object.keys(body?.identity?.userAssignedIdentities ?? {});
        if (options.identityAssignDenied && identities.length) {
          // Resource Manager's linked access check on the identities a pool is given.
          throw new ArmError(
            403,
            'LinkedAuthorizationFailed',
            `The client has permission to perform action 'Microsoft.Batch/batchAccounts/pools/write' on scope '${id}'; however, it does not have permission to perform action(s) 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '${identities.join(', ')}' (respectively) or the linked scope(s) are invalid.`,
          );
        }
        checkCreateBody(body);
        const now = new Date().toISOString();
        const pool: PoolRecord = {
          name,
          id,
          etag: 0x8d4edfebfadf4ab,
          properties: {
            ...body.properties,
            taskSlotsPerNode: body.properties.taskSlotsPerNode ?? 1,
            interNodeCommunication: body.properties.interNodeCommunication ?? 'Disabled',
            creationTime: now,
            lastModified: now,
          },
          identity: body.identity,
          allocationState: 'Steady',
          stepsLeft: 0,
          current: { dedicated: 0, spot: 0 },
          reachable: { dedicated: 0, spot: 0 },
          pendingErrors: [],
          deleting: false,
        };
        const fixed = checkScaleSettings(body.properties.scaleSettings);
        if (fixed && fixed !== 'auto') startResize(pool, fixed);
        pools.set(key, pool);
        send(res, 200, render(pool), { etag: render(pool).etag });
        return;
      }
      case 'GET': {
        if (!existing) throw notFound();
        advance(existing);
        send(res, 200, render(existing), { etag: render(existing).etag });
        return;
      }
      case 'PATCH': {
        if (!existing || existing.deleting) throw notFound();
        if (!body || typeof body.properties !== 'object') throw invalid('properties', 'the request body must have properties');
        const scale = checkScaleSettings(body.properties.scaleSettings);
        if (body.properties.vmSize && body.properties.vmSize !== existing.properties.vmSize) {
          throw new ArmError(400, 'PropertyCannotBeUpdated', 'The property vmSize cannot be updated on an existing pool.', 'properties.vmSize');
        }
        existing.properties = { ...existing.properties, ...body.properties, lastModified: new Date().toISOString() };
        if (scale === 'auto') {
          existing.properties.autoScaleRun = { evaluationTime: new Date().toISOString(), results: '$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion' };
        } else if (scale) {
          startResize(existing, scale);
        }
        existing.etag += 1;
        send(res, 200, render(existing), { etag: render(existing).etag });
        return;
      }
      case 'DELETE': {
        if (!existing) {
          send(res, 204);
          return;
        }
        if (!existing.deleting) {
          existing.deleting = true;
          const opId = `delete-${name}-${(++sequence).toString(16).toUpperCase()}`;
          operations.set(opId, { id: opId, pollsLeft: options.lroPolls ?? 2, pool: name });
          existing.properties.deleteOperation = opId;
        }
        const opId = existing.properties.deleteOperation as string;
        const prefix = `${base}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Batch/batchAccounts/${account}`;
        const apiVersion = `api-version=${query['api-version']}`;
        const headers: Record<string, string> = {
          'retry-after': String(options.retryAfterSeconds ?? 0),
          location: `${prefix}/poolOperationResults/${opId}?${apiVersion}`,
        };
        if (options.lroStyle === 'azure-async-operation') headers['azure-asyncoperation'] = `${prefix}/poolOperationStatuses/${opId}?${apiVersion}`;
        send(res, 202, undefined, headers);
        return;
      }
      default:
        throw new ArmError(405, 'MethodNotAllowed', `${req.method} is not supported here`);
    }
  }

  const server = await startLoopbackServer(
    (req, res, body) => {
      try {
        handle(req, res, body.toString('utf8'));
      } catch (err) {
        const e = err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', String(err));
        send(res, e.status, { error: { code: e.code, message: e.message, ...(e.target ? { target: e.target } : {}) } });
      }
    },
    { tls: { key, cert }, cleanup: () => rm(dir, { recursive: true, force: true }) },
  );
  base = server.url;

  return {
    url: base,
    ca: cert,
    certPath,
    token,
    identityEndpoint: `${base}/msi/token`,
    identityHeader,
    requests,
    options,
    close: server.stop,
  };
}
