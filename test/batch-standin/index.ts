// The loopback stand-in for the Azure Batch data-plane service: the REST operations pixbatch's
// client calls, answered as the REST reference documents them, with nodes that really run tasks.
// See ./types.ts for the launcher API.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_API_VERSION, MAX_COLLECTION_BODY_BYTES, MAX_TASKS_PER_COLLECTION } from '../../src/batch/client.js';
import type { BatchJobScheduleSpec, BatchJobSpec, BatchTaskSpec, JobPatch } from '../../src/batch/client.js';
import { authenticate, type Principal } from './auth.js';
import { applySelect, compileFilter } from './odata.js';
import { refuseRetiredProperties } from './retired.js';
import { BatchService } from './service.js';
import { makeCertificate } from '../harness/certificate.js';
import type { BatchStandIn, RecordedCall, StandInOptions } from './types.js';
import {
  checkResourceFiles,
  JOB_ADD,
  JOB_PATCH,
  JOB_SCHEDULE_ADD,
  JOB_TERMINATE,
  ServiceError,
  TASK_COLLECTION,
  validate,
} from './validate.js';
import { BatchError } from './spec/batch-service.js';
import { responseDrift, RESPONSES } from './spec/check.js';
import { z } from 'zod';

const ANY = z.unknown();

export type { BatchStandIn, StandInOptions, RecordedCall, FailTaskSpec } from './types.js';

interface Ctx {
  req: IncomingMessage;
  params: string[];
  query: URLSearchParams;
  body: () => unknown;
  principal: Principal;
}

/**
 * Query parameters as the documented examples send them: `$filter`, `$select`, `$expand` with a literal `$`,
 * values percent-encoded. Stricter than the service is known to be, so a client that drifts fails a test:
 * a `%24` name may be ignored by the service (the filter silently dropped), and a `+` in a value has been read
 * as a space inside DateTime literals (Azure/Batch issue 176).
 */
function checkQueryEncoding(rawQuery: string): void {
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const bad = /%24/i.test(name) ? 'the name has %24 where the service expects a literal $' : value.includes('+') ? 'the value has a + (write a space as %20, a plus as %2B)' : undefined;
    if (bad) {
      throw new ServiceError(400, 'InvalidQueryParameterValue', 'The value for one of the query parameters specified in the request URI is invalid.', [
        { key: 'QueryParameterName', value: decodeURIComponent(name) },
        { key: 'QueryParameterValue', value },
        { key: 'Reason', value: bad },
      ]);
    }
  }
}

type Reply = { status: number; body?: unknown; raw?: Buffer; headers?: Record<string, string> };
type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

const JSON_TYPE = 'application/json;odata=minimalmetadata';

/**
 * Starts the stand-in on a loopback port.
 *
 * @example
 * const batch = await startBatchStandIn({ nodes: 2, storageConnectionString });
 * const client = new BatchClient(batch.url, new BatchSharedKeyCredential(batch.accountName, batch.accountKey));
 * // ... then
 * await batch.stop();
 */
export async function startBatchStandIn(options: StandInOptions = {}): Promise<BatchStandIn> {
  const ownRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), 'batch-standin-')));
  const accountName = options.accountName ?? 'standin';
  const accountKey = options.accountKey ?? randomBytes(64).toString('base64');
  const poolId = options.poolId ?? 'pixbatch-pool';
  const acceptTokens = new Set(options.acceptTokens ?? []);
  const identities = new Set(options.identities ?? []);
  const useTls = options.tls === true || acceptTokens.size > 0 || identities.size > 0;
  const calls: RecordedCall[] = [];
  const pageSize = options.defaultPageSize ?? 1000;
  let throttle = { left: 0, status: 503, retryAfter: 1 };

  let service!: BatchService;
  const cert = useTls ? makeCertificate() : undefined;

  const routes: Array<{ method: string; re: RegExp; op: string; handler: Handler }> = [];
  const route = (method: string, pattern: string, op: string, handler: Handler) =>
    routes.push({ method, re: new RegExp(`^${pattern.replace(/\{\w+\}/g, '([^/]+)')}$`), op, handler });

  const list = (ctx: Ctx, all: Array<Record<string, unknown>>, base: string): Reply => {
    const max = ctx.query.get('maxresults') ? Number(ctx.query.get('maxresults')) : pageSize;
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new ServiceError(400, 'InvalidQueryParameterValue', 'The value for one of the query parameters specified in the request URI is invalid.', [
        { key: 'QueryParameterName', value: 'maxresults' },
        { key: 'QueryParameterValue', value: String(ctx.query.get('maxresults')) },
      ]);
    }
    const filtered = all.filter(compileFilter(ctx.query.get('$filter')));
    const skip = Number(/^o(\d+)$/.exec(ctx.query.get('$skiptoken') ?? '')?.[1] ?? 0);
    const page = filtered.slice(skip, skip + max).map((o) => applySelect(o, ctx.query.get('$select')));
    const body: Record<string, unknown> = { 'odata.metadata': `${url}/$metadata#${base}`, value: page };
    if (skip + max < filtered.length) {
      // Back through the door the request came in by (TLS or the plain one).
      const base = `${(ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'}://${ctx.req.headers.host}`;
      // Written as the service writes it: `$` names literal, values percent-encoded.
      const params = [...ctx.query].filter(([k]) => k !== '$skiptoken' && k !== 'timeout').map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
      params.push(`$skiptoken=o${skip + max}`);
      body['odata.nextLink'] = `${base}${ctx.req.url!.split('?')[0]}?${params.join('&')}`;
    }
    return { status: 200, body };
  };

  const created = (location: string): Reply => ({
    status: 201,
    headers: { location, dataserviceid: location, etag: `0x${randomBytes(7).toString('hex').toUpperCase()}`, 'last-modified': new Date().toUTCString() },
  });

  route('GET', '/pools/{poolId}', 'getpool', (c) => ({ status: 200, body: applySelect(service.getPool(c.params[0]!), c.query.get('$select')) }));
  route('POST', '/jobs', 'addjob', (c) => {
    const spec = validate(JOB_ADD, c.body()) as BatchJobSpec;
    checkResourceFiles(spec.jobPreparationTask?.resourceFiles as never, 'jobPreparationTask.resourceFiles');
    checkResourceFiles(spec.jobManagerTask?.resourceFiles as never, 'jobManagerTask.resourceFiles');
    service.addJob(spec);
    return created(`${url}/jobs/${encodeURIComponent(spec.id)}`);
  });
  route('GET', '/jobs', 'listjobs', (c) => list(c, service.listJobs(), 'jobs'));
  route('GET', '/jobs/{jobId}', 'getjob', (c) => ({ status: 200, body: applySelect(service.getJob(c.params[0]!), c.query.get('$select')) }));
  route('PATCH', '/jobs/{jobId}', 'patchjob', (c) => {
    service.patchJob(c.params[0]!, validate(JOB_PATCH, c.body()) as JobPatch);
    return { status: 200 };
  });
  route('POST', '/jobs/{jobId}/terminate', 'terminatejob', (c) => {
    const b = (c.req.headers['content-length'] && c.req.headers['content-length'] !== '0' ? validate(JOB_TERMINATE, c.body()) : {}) as {
      terminateReason?: string;
    };
    service.terminateJob(c.params[0]!, b.terminateReason);
    return { status: 202 };
  });
  route('DELETE', '/jobs/{jobId}', 'deletejob', (c) => {
    service.deleteJob(c.params[0]!);
    return { status: 202 };
  });
  route('POST', '/jobs/{jobId}/addtaskcollection', 'addtaskcollection', (c) => {
    const body = validate(TASK_COLLECTION, c.body()) as { value: BatchTaskSpec[] };
    if (body.value.length > MAX_TASKS_PER_COLLECTION) {
      throw new ServiceError(400, 'InvalidPropertyValue', 'The value provided for one of the properties in the request body is invalid.', [
        { key: 'PropertyName', value: 'value' },
        { key: 'PropertyValue', value: String(body.value.length) },
        { key: 'Reason', value: `The maximum number of tasks in a collection is ${MAX_TASKS_PER_COLLECTION}` },
      ]);
    }
    body.value.forEach((t, i) => checkResourceFiles(t.resourceFiles as never, `value[${i}].resourceFiles`));
    return { status: 200, body: { 'odata.metadata': `${url}/$metadata#taskaddresult`, value: service.addTasks(c.params[0]!, body.value) } };
  });
  route('GET', '/jobs/{jobId}/tasks', 'listtasks', (c) => list(c, service.listTasks(c.params[0]!), 'tasks'));
  route('GET', '/jobs/{jobId}/tasks/{taskId}', 'gettask', (c) => ({
    status: 200,
    body: applySelect(service.getTask(c.params[0]!, c.params[1]!), c.query.get('$select')),
  }));
  route('GET', '/jobs/{jobId}/taskcounts', 'gettaskcounts', (c) => ({ status: 200, body: service.taskCounts(c.params[0]!) }));
  const fileRoute = (head: boolean) => async (c: Ctx): Promise<Reply> => {
    const data = await service.taskFile(c.params[0]!, c.params[1]!, c.params[2]!);
    const headers = { 'ocp-batch-file-isdirectory': 'False', 'ocp-batch-file-mode': '0o100644', 'content-type': 'application/octet-stream' };
    if (head) return { status: 200, headers: { ...headers, 'content-length': String(data.length) } };
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(c.req.headers['ocp-range'] ?? ''));
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Number(range[2]) : data.length - 1;
      return { status: 200, raw: data.subarray(start, end + 1), headers };
    }
    return { status: 200, raw: data, headers };
  };
  route('GET', '/jobs/{jobId}/tasks/{taskId}/files/(.+)', 'gettaskfile', fileRoute(false));
  route('HEAD', '/jobs/{jobId}/tasks/{taskId}/files/(.+)', 'gettaskfileproperties', fileRoute(true));
  route('POST', '/jobschedules', 'addjobschedule', (c) => {
    const spec = validate(JOB_SCHEDULE_ADD, c.body()) as BatchJobScheduleSpec;
    checkResourceFiles(spec.jobSpecification.jobPreparationTask?.resourceFiles as never, 'jobSpecification.jobPreparationTask.resourceFiles');
    checkResourceFiles(spec.jobSpecification.jobManagerTask?.resourceFiles as never, 'jobSpecification.jobManagerTask.resourceFiles');
    service.addSchedule(spec);
    return created(`${url}/jobschedules/${encodeURIComponent(spec.id)}`);
  });
  route('GET', '/jobschedules', 'listjobschedules', (c) => list(c, service.listSchedules(), 'jobschedules'));
  route('GET', '/jobschedules/{id}', 'getjobschedule', (c) => ({ status: 200, body: applySelect(service.getSchedule(c.params[0]!), c.query.get('$select')) }));
  route('GET', '/jobschedules/{id}/jobs', 'listjobsfromschedule', (c) => list(c, service.listJobs(c.params[0]!), 'jobs'));
  route('DELETE', '/jobschedules/{id}', 'deletejobschedule', (c) => {
    service.deleteSchedule(c.params[0]!);
    return { status: 202 };
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const [rawPath, rawQuery = ''] = (req.url ?? '/').split('?');
    const path = rawPath!;
    const query = new URLSearchParams(rawQuery);
    const call: RecordedCall = { method: req.method ?? 'GET', path: decodeURIComponent(path), query: Object.fromEntries(query), status: 0, operation: 'unknown' };
    calls.push(call);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size <= MAX_COLLECTION_BODY_BYTES + 1) chunks.push(chunk as Buffer);
    }
    const reply = (answer: Reply) => {
      let r = answer;
      call.status = r.status;
      const headers: Record<string, string> = { 'request-id': requestId, ...r.headers };
      const client = req.headers['client-request-id'];
      if (client) headers['client-request-id'] = String(client);
      let payload: Buffer | undefined = r.raw;
      // A body that drifts from its OpenAPI definition is the stand-in's bug: answer 500 so the test fails.
      const drift = r.body === undefined ? [] : responseDrift(r.status >= 400 ? BatchError : (RESPONSES[call.operation] ?? ANY), r.body);
      if (drift.length) {
        process.stderr.write(`batch stand-in: ${call.method} ${call.path} answer drifts from the spec: ${drift.join('; ')}\n`);
        r = { status: 500, body: { code: 'InternalError', message: { lang: 'en-US', value: `stand-in answer drifts from the spec: ${drift.join('; ')}` } } };
        call.status = 500;
      }
      if (r.body !== undefined) {
        payload = Buffer.from(JSON.stringify(r.body));
        headers['content-type'] = JSON_TYPE;
      }
      if (req.method === 'HEAD') {
        res.writeHead(r.status, headers).end();
        return;
      }
      headers['content-length'] = String(payload?.length ?? 0);
      res.writeHead(r.status, headers).end(payload);
    };
    const fail = (e: ServiceError) =>
      reply({
        status: e.status,
        headers: e.headers,
        body: {
          'odata.metadata': `${url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`,
          code: e.code,
          message: { lang: 'en-US', value: `${e.message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}` },
          ...(e.values.length ? { values: e.values } : {}),
        },
      });
    try {
      const r = routes.find((x) => x.method === req.method && x.re.test(path));
      const params = r ? r.re.exec(path)!.slice(1).map((p) => decodeURIComponent(p)) : [];
      call.operation = r?.op ?? 'unknown';
      if (throttle.left > 0) {
        throttle.left--;
        const code = throttle.status === 429 ? 'TooManyRequests' : throttle.status === 503 ? 'ServerBusy' : 'InternalError';
        throw new ServiceError(throttle.status, code, 'The server is busy.', [], { 'retry-after': String(throttle.retryAfter) });
      }
      const principal = authenticate(req, { accountName, accountKey, acceptTokens, identities });
      if (!r) throw new ServiceError(404, 'ResourceNotFound', 'The specified resource does not exist.');
      checkQueryEncoding(rawQuery);
      const apiVersion = query.get('api-version');
      if (!apiVersion) {
        throw new ServiceError(400, 'MissingRequiredQueryParameter', 'A query parameter that is mandatory for this request is not specified.', [
          { key: 'QueryParameterName', value: 'api-version' },
        ]);
      }
      if (apiVersion !== BATCH_API_VERSION) {
        throw new ServiceError(400, 'InvalidQueryParameterValue', 'The value for one of the query parameters specified in the request URI is invalid.', [
          { key: 'QueryParameterName', value: 'api-version' },
          { key: 'QueryParameterValue', value: apiVersion },
        ]);
      }
      // "The total serialized size of this collection must be less than 1MB."
      if (size >= MAX_COLLECTION_BODY_BYTES) {
        throw new ServiceError(413, 'RequestBodyTooLarge', 'The request body is too large and exceeds the maximum permissible limit.', [
          { key: 'MaxLimit', value: String(MAX_COLLECTION_BODY_BYTES) },
        ]);
      }
      const body = () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (!text) {
          throw new ServiceError(400, 'MissingRequiredProperty', 'A required property was not specified in the request body.', [
            { key: 'PropertyName', value: 'body' },
          ]);
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new ServiceError(400, 'InvalidRequestBody', 'The specified Request Body is not syntactically valid.');
        }
        refuseRetiredProperties(parsed);
        return parsed;
      };
      reply(await r.handler({ req, params, query, body, principal }));
    } catch (err) {
      if (err instanceof ServiceError) fail(err);
      else fail(new ServiceError(500, 'InternalError', `Server encountered an internal error: ${(err as Error).stack ?? err}`));
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server: Server = cert ? createHttpsServer({ key: cert.key, cert: cert.cert }, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `${cert ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // With TLS, a plain-http door too, for callers in the test process that cannot be told to trust the certificate.
  const plain: Server | undefined = cert ? createHttpServer(onRequest) : undefined;
  if (plain) await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', () => resolve()));
  const httpUrl = plain ? `http://127.0.0.1:${(plain.address() as AddressInfo).port}` : url;

  service = new BatchService({
    url,
    accountName,
    poolId,
    nodes: options.nodes ?? 2,
    rootDir,
    storageConnectionString: options.storageConnectionString,
    // Nodes trust the service's certificate, as real nodes trust the real one.
    taskEnvironment: { ...(cert ? { NODE_EXTRA_CA_CERTS: cert.certPath } : {}), ...options.taskEnvironment },
    timeScale: options.timeScale ?? 1,
    pool: options.pool ?? {},
  });
  await service.init();

  let stopped: Promise<void> | undefined;
  return {
    url,
    httpUrl,
    accountName,
    accountKey,
    poolId,
    tlsCa: cert?.cert,
    nodeIds: service.nodes.map((n) => n.id),
    calls,
    preempt: (nodeId) => service.preempt(nodeId),
    failNextTask: (spec) => service.failNextTask(spec),
    throttleNext: (n, status = 503, retryAfterSeconds = 1) => {
      throttle = { left: n, status, retryAfter: retryAfterSeconds };
    },
    waitForJob: (jobId, o = {}) =>
      service.waitUntil(() => {
        const j = service.jobs.get(jobId.toLowerCase());
        return j?.state === 'completed';
      }, o.abortSignal),
    waitForRunningTask: async (jobId, o = {}) => {
      let found: { nodeId: string; taskId: string } | undefined;
      await service.waitUntil(() => {
        for (const n of service.nodes) {
          const t = n.busy;
          if (t && t.state === 'running' && t.job.spec.id.toLowerCase() === jobId.toLowerCase() && (!o.taskId || t.spec.id === o.taskId)) {
            found = { nodeId: n.id, taskId: t.spec.id };
            return true;
          }
        }
        return false;
      }, o.abortSignal);
      return found!;
    },
    taskDir: (jobId, taskId) => service.taskDir(jobId, taskId),
    stop: () =>
      (stopped ??= (async () => {
        await service.stop();
        for (const srv of plain ? [server, plain] : [server]) {
          srv.closeAllConnections();
          await new Promise<void>((resolve) => srv.close(() => resolve()));
        }
        cert?.remove();
        if (ownRoot) await rm(rootDir, { recursive: true, force: true });
      })()),
  };
}
