// A thin typed client for the Azure Batch data-plane REST API: only the operations pixbatch calls.
// The legacy @azure/batch package sends the wrong token audience, so this sits directly on
// @azure/core-rest-pipeline, shaped like the Azure SDK clients: (endpoint, credential, options).
import { createHmac } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type HttpMethods,
  type Pipeline,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  createDefaultHttpClient,
} from '@azure/core-rest-pipeline';

/** The one place the REST API version is pinned. */
export const BATCH_API_VERSION = '2024-07-01.20.0';
/** Token scope for the Batch data plane (the double slash is part of the audience). */
export const BATCH_SCOPE = 'https://batch.core.windows.net//.default';
/** What Batch expects on request bodies. */
export const BATCH_CONTENT_TYPE = 'application/json; odata=minimalmetadata';
/** Largest add-task-collection request the service accepts: 100 tasks, and a body under 1 MB. */
export const MAX_TASKS_PER_COLLECTION = 100;
export const MAX_COLLECTION_BODY_BYTES = 1024 * 1024;

// ---------------------------------------------------------------- credentials

/** The Batch account's shared key. Signs each request with Batch's own shared-key scheme. */
export class BatchSharedKeyCredential {
  constructor(
    readonly accountName: string,
    readonly accountKey: string,
  ) {}
}

export type BatchCredential = TokenCredential | BatchSharedKeyCredential;

// ---------------------------------------------------------------- REST shapes (as the REST reference names them)

export interface NameValuePair {
  name: string;
  value: string;
}

export interface EnvironmentSetting {
  name: string;
  value?: string;
}

export interface ResourceFile {
  autoStorageContainerName?: string;
  storageContainerUrl?: string;
  httpUrl?: string;
  blobPrefix?: string;
  filePath?: string;
  fileMode?: string;
  identityReference?: { resourceId: string };
}

export interface TaskConstraints {
  /** ISO 8601 duration, for example `PT30M`. */
  maxWallClockTime?: string;
  retentionTime?: string;
  /** -1 retries forever; 0 runs once. */
  maxTaskRetryCount?: number;
}

export interface UserIdentity {
  username?: string;
  autoUser?: { scope?: 'task' | 'pool'; elevationLevel?: 'nonadmin' | 'admin' };
}

export interface JobPreparationTask {
  id?: string;
  commandLine: string;
  resourceFiles?: ResourceFile[];
  environmentSettings?: EnvironmentSetting[];
  constraints?: TaskConstraints;
  waitForSuccess?: boolean;
  userIdentity?: UserIdentity;
  rerunOnNodeRebootAfterSuccess?: boolean;
}

export interface JobReleaseTask {
  id?: string;
  commandLine: string;
  resourceFiles?: ResourceFile[];
  environmentSettings?: EnvironmentSetting[];
  maxWallClockTime?: string;
  retentionTime?: string;
  userIdentity?: UserIdentity;
}

/**
 * A task that runs first in a job (used by job schedules to add the job's tasks). It signs in with the pool's
 * managed identity: task authentication tokens (`authenticationTokenSettings`) were retired in September 2024.
 */
export interface JobManagerTask {
  id: string;
  displayName?: string;
  commandLine: string;
  resourceFiles?: ResourceFile[];
  environmentSettings?: EnvironmentSetting[];
  constraints?: TaskConstraints;
  requiredSlots?: number;
  killJobOnCompletion?: boolean;
  runExclusive?: boolean;
  userIdentity?: UserIdentity;
  allowLowPriorityNode?: boolean;
}

export type OnAllTasksComplete = 'noaction' | 'terminatejob';
export type OnTaskFailure = 'noaction' | 'performexitoptionsjobaction';

export interface JobConstraints {
  maxWallClockTime?: string;
  maxTaskRetryCount?: number;
}

/** The body of `POST /jobs`. */
export interface BatchJobSpec {
  id: string;
  displayName?: string;
  priority?: number;
  constraints?: JobConstraints;
  poolInfo: { poolId: string };
  jobManagerTask?: JobManagerTask;
  jobPreparationTask?: JobPreparationTask;
  jobReleaseTask?: JobReleaseTask;
  commonEnvironmentSettings?: EnvironmentSetting[];
  onAllTasksComplete?: OnAllTasksComplete;
  onTaskFailure?: OnTaskFailure;
  metadata?: NameValuePair[];
  usesTaskDependencies?: boolean;
}

/** The body of `PATCH /jobs/{jobId}`. */
export interface JobPatch {
  priority?: number;
  constraints?: JobConstraints;
  onAllTasksComplete?: OnAllTasksComplete;
  metadata?: NameValuePair[];
}

export type JobState = 'active' | 'disabling' | 'disabled' | 'enabling' | 'terminating' | 'completed' | 'deleting';

export interface BatchJob extends BatchJobSpec {
  url?: string;
  eTag?: string;
  lastModified?: string;
  creationTime?: string;
  state: JobState;
  stateTransitionTime?: string;
  previousState?: JobState;
  executionInfo?: {
    startTime?: string;
    endTime?: string;
    poolId?: string;
    /** For example `AllTasksComplete`, `UserTerminate`, `MaxWallClockTimeExpiry`. */
    terminateReason?: string;
    schedulingError?: unknown;
  };
}

/** The body of one task in `POST /jobs/{jobId}/addtaskcollection`. */
export interface BatchTaskSpec {
  id: string;
  displayName?: string;
  commandLine: string;
  resourceFiles?: ResourceFile[];
  environmentSettings?: EnvironmentSetting[];
  constraints?: TaskConstraints;
  userIdentity?: UserIdentity;
  requiredSlots?: number;
}

export type TaskState = 'active' | 'preparing' | 'running' | 'completed';

export interface TaskFailureInfo {
  category: 'usererror' | 'servererror';
  code?: string;
  message?: string;
  details?: NameValuePair[];
}

export interface TaskExecutionInfo {
  startTime?: string;
  endTime?: string;
  exitCode?: number;
  failureInfo?: TaskFailureInfo;
  retryCount: number;
  lastRetryTime?: string;
  requeueCount: number;
  lastRequeueTime?: string;
  result?: 'success' | 'failure';
}

export interface BatchTask extends BatchTaskSpec {
  url?: string;
  eTag?: string;
  creationTime?: string;
  lastModified?: string;
  state: TaskState;
  stateTransitionTime?: string;
  previousState?: TaskState;
  executionInfo?: TaskExecutionInfo;
  nodeInfo?: {
    affinityId?: string;
    nodeUrl?: string;
    poolId?: string;
    nodeId?: string;
    taskRootDirectory?: string;
    taskRootDirectoryUrl?: string;
  };
}

/** The service's error body: `{ code, message: { lang, value }, values? }`. */
export interface BatchErrorBody {
  code: string;
  message?: { lang?: string; value: string };
  values?: Array<{ key: string; value: string }>;
}

export interface TaskAddResult {
  status: 'success' | 'clienterror' | 'servererror';
  taskId: string;
  eTag?: string;
  lastModified?: string;
  location?: string;
  error?: BatchErrorBody;
}

export interface TaskCounts {
  active: number;
  running: number;
  completed: number;
  succeeded: number;
  failed: number;
}

export interface TaskCountsResult {
  taskCounts: TaskCounts;
  taskSlotCounts: Omit<TaskCounts, 'succeeded' | 'failed'> & { succeeded: number; failed: number };
}

export interface BatchPool {
  id: string;
  url?: string;
  eTag?: string;
  state?: 'active' | 'deleting';
  allocationState?: 'steady' | 'resizing' | 'stopping';
  vmSize?: string;
  taskSlotsPerNode?: number;
  currentDedicatedNodes?: number;
  currentLowPriorityNodes?: number;
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  enableAutoScale?: boolean;
  identity?: { type: string; userAssignedIdentities?: Array<{ resourceId: string; clientId?: string; principalId?: string }> };
  [key: string]: unknown;
}

/** When a job schedule makes its jobs (ISO 8601 times and durations). */
export interface Schedule {
  doNotRunUntil?: string;
  doNotRunAfter?: string;
  startWindow?: string;
  /** For example `PT1H`. Without it the schedule makes one job. */
  recurrenceInterval?: string;
}

/** What each job a schedule makes looks like: a job without its id. */
export type JobSpecification = Omit<BatchJobSpec, 'id'>;

/** The body of `POST /jobschedules`. */
export interface BatchJobScheduleSpec {
  id: string;
  displayName?: string;
  schedule: Schedule;
  jobSpecification: JobSpecification;
  metadata?: NameValuePair[];
}

export type JobScheduleState = 'active' | 'completed' | 'disabled' | 'terminating' | 'deleting';

export interface BatchJobSchedule extends BatchJobScheduleSpec {
  url?: string;
  eTag?: string;
  lastModified?: string;
  creationTime?: string;
  state: JobScheduleState;
  stateTransitionTime?: string;
  executionInfo?: {
    nextRunTime?: string;
    recentJob?: { id: string; url?: string };
    endTime?: string;
  };
}

// ---------------------------------------------------------------- options

export interface BatchClientOptions {
  /** Retries for 429/503 (honouring Retry-After), other 5xx and transport errors. */
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** Trust these CAs (PEM) instead of the system ones, for a loopback service with a throw-away certificate. */
  tlsCa?: string | Buffer;
  /** Replace the HTTP client (tests). */
  httpClient?: HttpClient;
  /** Added before the default user agent. */
  userAgentPrefix?: string;
}

export interface OperationOptions {
  abortSignal?: AbortSignal;
  /** Server-side timeout in seconds (the `timeout` query parameter). */
  timeoutInSeconds?: number;
}

export interface ListTasksOptions extends OperationOptions {
  /** OData filter, for example `state eq 'completed'`. */
  filter?: string;
  /** Comma-separated properties, for example `id,state,executionInfo`. */
  select?: string;
  expand?: string;
  /** Page size (the service caps it at 1000). */
  maxResults?: number;
}

export interface ListJobsOptions extends OperationOptions {
  filter?: string;
  select?: string;
  maxResults?: number;
}

export interface GetTaskFileOptions extends OperationOptions {
  /** Byte range, inclusive, as `ocp-range: bytes=start-end`. */
  range?: { start: number; end?: number };
  /** Only the last N bytes (reads the file's length first). */
  tailBytes?: number;
}

export interface TerminateJobOptions extends OperationOptions {
  terminateReason?: string;
}

/** Async iterator over items that also pages on demand, like the Azure SDK's list operations. */
export interface PagedAsyncIterableIterator<T> extends AsyncIterableIterator<T> {
  byPage(): AsyncIterableIterator<T[]>;
}

// ---------------------------------------------------------------- errors

/** A failed Batch call: HTTP status, the service's error code and its message. */
export class BatchError extends Error {
  override name = 'BatchError';
  readonly statusCode: number;
  readonly code: string;
  /** The service's own message text (`message.value`). */
  readonly serviceMessage: string;
  readonly values?: Array<{ key: string; value: string }>;
  readonly requestId?: string;
  constructor(
    statusCode: number,
    code: string,
    serviceMessage: string,
    extra: { values?: Array<{ key: string; value: string }>; requestId?: string; operation?: string } = {},
  ) {
    super(`${extra.operation ? `${extra.operation}: ` : ''}${code} (${statusCode}): ${serviceMessage.split('\n')[0]}`);
    this.statusCode = statusCode;
    this.code = code;
    this.serviceMessage = serviceMessage;
    this.values = extra.values;
    this.requestId = extra.requestId;
  }
}

export function isBatchError(err: unknown, code?: string): err is BatchError {
  return err instanceof BatchError && (code === undefined || err.code === code);
}

// ---------------------------------------------------------------- shared-key signing

const SIGNED_STANDARD_HEADERS = [
  'content-encoding',
  'content-language',
  'content-length',
  'content-md5',
  'content-type',
  'date',
  'if-modified-since',
  'if-match',
  'if-none-match',
  'if-unmodified-since',
  'range',
] as const;

/**
 * Batch's shared-key string-to-sign: the verb, eleven standard headers (Date signs empty when ocp-date is
 * set), the `ocp-*` headers sorted, then `/account/path` and the query parameters lower-cased and sorted,
 * one per line. Content-Length signs as the official SDKs sign it (azure-batch for Python,
 * `BatchSharedKeyAuthPolicy`): its value when present, `0` for a request other than GET and HEAD that has
 * none, empty for a GET or HEAD. Exported so tests can check it against a published signature.
 */
export function batchStringToSign(
  accountName: string,
  method: string,
  url: string,
  header: (name: string) => string | undefined,
  headerNames: Iterable<string>,
): string {
  const lines: string[] = [method];
  const bodiless = /^(GET|HEAD)$/i.test(method);
  for (const h of SIGNED_STANDARD_HEADERS) {
    let v = header(h) ?? '';
    if (h === 'content-length' && v === '' && !bodiless) v = '0';
    // With ocp-date set, the Date slot is signed empty.
    if (h === 'date' && header('ocp-date')) v = '';
    lines.push(v);
  }
  const ocp = [...new Set([...headerNames].map((n) => n.toLowerCase()).filter((n) => n.startsWith('ocp-')))].sort();
  let s = lines.join('\n') + '\n';
  for (const n of ocp) s += `${n}:${(header(n) ?? '').trim()}\n`;
  const u = new URL(url);
  // The path as sent (still percent-encoded); query values decoded.
  s += `/${accountName}${u.pathname || '/'}`;
  const params = new Map<string, string[]>();
  for (const [k, v] of u.searchParams) {
    const key = k.toLowerCase();
    params.set(key, [...(params.get(key) ?? []), v]);
  }
  for (const k of [...params.keys()].sort()) s += `\n${k}:${params.get(k)!.sort().join(',')}`;
  return s;
}

export function batchSharedKeySignature(accountKey: string, stringToSign: string): string {
  return createHmac('sha256', Buffer.from(accountKey, 'base64')).update(stringToSign, 'utf8').digest('base64');
}

function sharedKeyPolicy(cred: BatchSharedKeyCredential): PipelinePolicy {
  return {
    name: 'batchSharedKeyPolicy',
    async sendRequest(request: PipelineRequest, next) {
      // A fresh date per attempt: the retry policy runs before this one.
      request.headers.set('ocp-date', new Date().toUTCString());
      if (typeof request.body === 'string') request.headers.set('content-length', String(Buffer.byteLength(request.body)));
      const names: string[] = [];
      for (const [name] of request.headers) names.push(name);
      const toSign = batchStringToSign(cred.accountName, request.method, request.url, (n) => request.headers.get(n), names);
      request.headers.set('authorization', `SharedKey ${cred.accountName}:${batchSharedKeySignature(cred.accountKey, toSign)}`);
      return next(request);
    },
  };
}

// ---------------------------------------------------------------- the client

function isTokenCredential(c: BatchCredential): c is TokenCredential {
  return typeof (c as TokenCredential).getToken === 'function';
}

const enc = encodeURIComponent;

/**
 * The Batch data-plane operations pixbatch needs.
 *
 * @example
 * import { DefaultAzureCredential } from '@azure/identity';
 * const batch = new BatchClient('https://myaccount.westeurope.batch.azure.com', new DefaultAzureCredential());
 * const counts = await batch.getTaskCounts('pixbatch-20260101-abc');
 */
export class BatchClient {
  readonly endpoint: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;

  constructor(endpoint: string, credential: BatchCredential, options: BatchClientOptions = {}) {
    this.endpoint = endpoint.replace(/\/+$/, '');
    this.pipeline = createPipelineFromOptions({
      retryOptions: { maxRetries: 5, retryDelayInMs: 500, maxRetryDelayInMs: 30_000, ...options.retryOptions },
      userAgentOptions: { userAgentPrefix: options.userAgentPrefix ?? 'pixbatch' },
      // Batch reads and echoes `client-request-id`.
      telemetryOptions: { clientRequestIdHeaderName: 'client-request-id' },
      ...(options.tlsCa ? { tlsOptions: { ca: options.tlsCa } } : {}),
    });
    this.pipeline.addPolicy(
      isTokenCredential(credential)
        ? bearerTokenAuthenticationPolicy({ credential, scopes: BATCH_SCOPE })
        : sharedKeyPolicy(credential),
      { phase: 'Sign' },
    );
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
  }

  /** `GET /pools/{poolId}` */
  async getPool(poolId: string, options: OperationOptions & { select?: string } = {}): Promise<BatchPool> {
    return this.json<BatchPool>('GET', `/pools/${enc(poolId)}`, options, { query: { $select: options.select } });
  }

  /**
   * `POST /jobs`. Fails with 409 `JobExists` when the id is taken.
   * A job with no tasks counts as having all its tasks complete, so add it with `onAllTasksComplete:
   * 'noaction'`, add the tasks, then `patchJob(id, { onAllTasksComplete: 'terminatejob' })` (as the REST reference advises).
   */
  async addJob(job: BatchJobSpec, options: OperationOptions = {}): Promise<void> {
    await this.send('POST', '/jobs', options, { body: job, expect: [201] });
  }

  /** `GET /jobs/{jobId}` */
  async getJob(jobId: string, options: OperationOptions & { select?: string } = {}): Promise<BatchJob> {
    return this.json<BatchJob>('GET', `/jobs/${enc(jobId)}`, options, { query: { $select: options.select } });
  }

  /** `PATCH /jobs/{jobId}`: changes only the properties given. `terminatejob` cannot go back to `noaction`. */
  async patchJob(jobId: string, patch: JobPatch, options: OperationOptions = {}): Promise<void> {
    await this.send('PATCH', `/jobs/${enc(jobId)}`, options, { body: patch, expect: [200] });
  }

  /** `GET /jobs` */
  listJobs(options: ListJobsOptions = {}): PagedAsyncIterableIterator<BatchJob> {
    return this.list<BatchJob>('/jobs', options, { $filter: options.filter, $select: options.select, maxresults: options.maxResults });
  }

  /** `POST /jobs/{jobId}/terminate`: running tasks are ended and the job completes. */
  async terminateJob(jobId: string, options: TerminateJobOptions = {}): Promise<void> {
    const body = options.terminateReason ? { terminateReason: options.terminateReason } : {};
    await this.send('POST', `/jobs/${enc(jobId)}/terminate`, options, { body, expect: [202] });
  }

  /** `DELETE /jobs/{jobId}` (also deletes its tasks). */
  async deleteJob(jobId: string, options: OperationOptions = {}): Promise<void> {
    await this.send('DELETE', `/jobs/${enc(jobId)}`, options, { expect: [202] });
  }

  /**
   * `POST /jobs/{jobId}/addtaskcollection` with at most 100 tasks and 1 MB of body. One result per
   * task (in any order); a task can fail on its own (`clienterror` `TaskExists`, `servererror`) while
   * the call succeeds. The whole call fails with 413 `RequestBodyTooLarge` or 400 for too many tasks.
   */
  async addTaskCollection(jobId: string, tasks: BatchTaskSpec[], options: OperationOptions = {}): Promise<TaskAddResult[]> {
    const r = await this.json<{ value: TaskAddResult[] }>('POST', `/jobs/${enc(jobId)}/addtaskcollection`, options, {
      body: { value: tasks },
    });
    return r.value ?? [];
  }

  /**
   * `GET /jobs/{jobId}/tasks`, following `odata.nextLink`.
   *
   * @example
   * for await (const t of batch.listTasks(jobId, { filter: "state eq 'completed'", select: 'id,executionInfo' })) console.log(t.id);
   */
  listTasks(jobId: string, options: ListTasksOptions = {}): PagedAsyncIterableIterator<BatchTask> {
    return this.list<BatchTask>(`/jobs/${enc(jobId)}/tasks`, options, {
      $filter: options.filter,
      $select: options.select,
      $expand: options.expand,
      maxresults: options.maxResults,
    });
  }

  /** `GET /jobs/{jobId}/tasks/{taskId}` */
  async getTask(jobId: string, taskId: string, options: OperationOptions & { select?: string } = {}): Promise<BatchTask> {
    return this.json<BatchTask>('GET', `/jobs/${enc(jobId)}/tasks/${enc(taskId)}`, options, { query: { $select: options.select } });
  }

  /** `GET /jobs/{jobId}/taskcounts`. The service's counts are approximate: decide completion from `listTasks`. */
  async getTaskCounts(jobId: string, options: OperationOptions = {}): Promise<TaskCountsResult> {
    return this.json<TaskCountsResult>('GET', `/jobs/${enc(jobId)}/taskcounts`, options);
  }

  /** `HEAD /jobs/{jobId}/tasks/{taskId}/files/{filePath}`: the file's length in bytes. */
  async getTaskFileProperties(jobId: string, taskId: string, filePath: string, options: OperationOptions = {}): Promise<{ contentLength: number }> {
    const res = await this.send('HEAD', `/jobs/${enc(jobId)}/tasks/${enc(taskId)}/files/${encodePath(filePath)}`, options);
    return { contentLength: Number(res.headers.get('content-length') ?? 0) };
  }

  /**
   * `GET /jobs/{jobId}/tasks/{taskId}/files/{filePath}` as text, for example `stderr.txt`.
   *
   * @example
   * const tail = await batch.getTaskFile(jobId, taskId, 'stderr.txt', { tailBytes: 4096 });
   */
  async getTaskFile(jobId: string, taskId: string, filePath: string, options: GetTaskFileOptions = {}): Promise<string> {
    let range = options.range;
    if (options.tailBytes !== undefined) {
      const { contentLength } = await this.getTaskFileProperties(jobId, taskId, filePath, options);
      if (contentLength === 0) return '';
      range = { start: Math.max(0, contentLength - options.tailBytes), end: contentLength - 1 };
    }
    const headers: Record<string, string> = {};
    if (range) headers['ocp-range'] = `bytes=${range.start}-${range.end ?? ''}`;
    const res = await this.send('GET', `/jobs/${enc(jobId)}/tasks/${enc(taskId)}/files/${encodePath(filePath)}`, options, { headers });
    return res.bodyAsText ?? '';
  }

  /** `POST /jobschedules`. Fails with 409 `JobScheduleExists` when the id is taken. */
  async addJobSchedule(schedule: BatchJobScheduleSpec, options: OperationOptions = {}): Promise<void> {
    await this.send('POST', '/jobschedules', options, { body: schedule, expect: [201] });
  }

  /** `GET /jobschedules/{jobScheduleId}` */
  async getJobSchedule(jobScheduleId: string, options: OperationOptions = {}): Promise<BatchJobSchedule> {
    return this.json<BatchJobSchedule>('GET', `/jobschedules/${enc(jobScheduleId)}`, options);
  }

  /** `GET /jobschedules` */
  listJobSchedules(options: ListJobsOptions = {}): PagedAsyncIterableIterator<BatchJobSchedule> {
    return this.list<BatchJobSchedule>('/jobschedules', options, { $filter: options.filter, $select: options.select, maxresults: options.maxResults });
  }

  /** `GET /jobschedules/{jobScheduleId}/jobs`: the jobs a schedule has made. */
  listJobsFromSchedule(jobScheduleId: string, options: ListJobsOptions = {}): PagedAsyncIterableIterator<BatchJob> {
    return this.list<BatchJob>(`/jobschedules/${enc(jobScheduleId)}/jobs`, options, {
      $filter: options.filter,
      $select: options.select,
      maxresults: options.maxResults,
    });
  }

  /** `DELETE /jobschedules/{jobScheduleId}` (also deletes the jobs it made). */
  async deleteJobSchedule(jobScheduleId: string, options: OperationOptions = {}): Promise<void> {
    await this.send('DELETE', `/jobschedules/${enc(jobScheduleId)}`, options, { expect: [202] });
  }

  // ------------------------------------------------------------ plumbing

  private list<T>(path: string, options: OperationOptions, query: Record<string, string | number | undefined>): PagedAsyncIterableIterator<T> {
    const pages = async function* (this: BatchClient): AsyncIterableIterator<T[]> {
      let next: string | undefined = this.url(path, { ...query, timeout: options.timeoutInSeconds });
      while (next) {
        const res = await this.sendUrl('GET', next, options, {});
        const body = parseJson(res) as { value?: T[]; 'odata.nextLink'?: string };
        yield body.value ?? [];
        next = body['odata.nextLink'];
      }
    }.bind(this);
    const items = async function* (): AsyncIterableIterator<T> {
      for await (const page of pages()) yield* page;
    };
    const it = items() as PagedAsyncIterableIterator<T>;
    it.byPage = () => pages();
    return it;
  }

  /**
   * The request URL. Built by hand, not with URLSearchParams: that writes `%24filter` for `$filter` and `+`
   * for a space, while every documented example sends `$filter` literally, and the service has been seen
   * reading `+` as a space inside DateTime literals (Azure/Batch issue 176). Values are percent-encoded.
   */
  private url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const params = [`api-version=${enc(BATCH_API_VERSION)}`];
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.push(`${k}=${enc(String(v))}`);
    return `${this.endpoint}${path}?${params.join('&')}`;
  }

  private async json<T>(
    method: HttpMethods,
    path: string,
    options: OperationOptions,
    extra: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
  ): Promise<T> {
    const res = await this.send(method, path, options, extra);
    return parseJson(res) as T;
  }

  private send(
    method: HttpMethods,
    path: string,
    options: OperationOptions,
    extra: { query?: Record<string, string | number | undefined>; body?: unknown; headers?: Record<string, string>; expect?: number[] } = {},
  ): Promise<PipelineResponse> {
    return this.sendUrl(method, this.url(path, { ...extra.query, timeout: options.timeoutInSeconds }), options, extra);
  }

  private async sendUrl(
    method: HttpMethods,
    url: string,
    options: OperationOptions,
    extra: { body?: unknown; headers?: Record<string, string>; expect?: number[] },
  ): Promise<PipelineResponse> {
    const headers = createHttpHeaders({ accept: 'application/json', ...extra.headers });
    let body: string | undefined;
    if (extra.body !== undefined) {
      body = JSON.stringify(extra.body);
      headers.set('content-type', BATCH_CONTENT_TYPE);
    }
    // A plain-http endpoint is only ever a loopback service the caller named on purpose.
    const allowInsecureConnection = url.startsWith('http:');
    const request = createPipelineRequest({ url, method, headers, body, abortSignal: options.abortSignal, allowInsecureConnection });
    const res = await this.pipeline.sendRequest(this.httpClient, request);
    if (res.status >= 400) throw toBatchError(res, `${method} ${new URL(url).pathname}`);
    if (extra.expect && !extra.expect.includes(res.status) && !(res.status >= 200 && res.status < 300)) {
      throw new BatchError(res.status, 'UnexpectedStatus', `Expected ${extra.expect.join(' or ')} but the service answered ${res.status}`);
    }
    return res;
  }
}

function encodePath(filePath: string): string {
  return filePath.split('/').map(enc).join('/');
}

function parseJson(res: PipelineResponse): unknown {
  const text = res.bodyAsText ?? '';
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BatchError(res.status, 'InvalidResponse', `The service answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

function toBatchError(res: PipelineResponse, operation: string): BatchError {
  let body: Partial<BatchErrorBody> & { message?: unknown } = {};
  try {
    body = JSON.parse(res.bodyAsText ?? '') as typeof body;
  } catch {
    // HEAD responses and proxies have no JSON body.
  }
  const msg = body.message as BatchErrorBody['message'] | string | undefined;
  const text = typeof msg === 'string' ? msg : msg?.value ?? `HTTP ${res.status}`;
  return new BatchError(res.status, body.code ?? `Http${res.status}`, text, {
    values: body.values,
    requestId: res.headers.get('request-id') ?? undefined,
    operation,
  });
}
