// The launcher API of the loopback Batch stand-in: what tests start, inspect and break.

export interface StandInOptions {
  /** Simulated compute nodes, one task slot each (default 2). */
  nodes?: number;
  /** Pool id the stand-in serves (default `pixbatch-pool`). */
  poolId?: string;
  /** Batch account name (default `standin`); a random shared key is generated unless given. */
  accountName?: string;
  accountKey?: string;
  /**
   * Bearer tokens accepted besides the shared key. When set (or `tls` is true) the stand-in listens
   * on HTTPS with a throw-away certificate, since bearer tokens are only sent over TLS.
   */
  acceptTokens?: string[];
  /**
   * Managed identities (the `oid` of their tokens) that hold a Batch role on the account, such as the pool's
   * user-assigned identity: their Microsoft Entra tokens for `https://batch.core.windows.net/` are accepted
   * (an identity not listed gets 403 AuthorizationFailure). Implies HTTPS, like `acceptTokens`.
   */
  identities?: string[];
  tls?: boolean;
  /**
   * Blob Storage the nodes download resource files from (Azurite): the stand-in uses this
   * connection string in place of the pool's managed identity.
   */
  storageConnectionString?: string;
  /** Extra environment given to every process it runs (for example `AZURE_STORAGE_CONNECTION_STRING`). */
  taskEnvironment?: Record<string, string>;
  /** Where node directories live (default: a new temp dir, removed by `stop()`). */
  rootDir?: string;
  /** Page size for list operations when the caller gives no `maxresults` (default 1000, as the service). */
  defaultPageSize?: number;
  /** Job schedules recur this many times faster than their recurrenceInterval says (default 1). */
  timeScale?: number;
  /** Pool properties reported by getPool (vmSize, identity, ...). */
  pool?: Record<string, unknown>;
}

export interface RecordedCall {
  method: string;
  /** Path without the query, e.g. `/jobs/j1/addtaskcollection`. */
  path: string;
  query: Record<string, string>;
  status: number;
  /** `addtaskcollection`, `addjob`, `listtasks`, ... */
  operation: string;
}

export interface FailTaskSpec {
  /** Task id to fail (default: the next task that starts). */
  taskId?: string;
  /** Exit code (default 1). */
  exitCode?: number;
  /** Written to stderr.txt before it exits. */
  stderr?: string;
  /** How many attempts to fail (default 1). */
  times?: number;
}

export interface BatchStandIn {
  /** Endpoint for `new BatchClient(url, ...)`; the one tasks see as `AZ_BATCH_ACCOUNT_URL`. */
  url: string;
  /** The same service over plain http (equal to `url` without TLS), for shared-key callers that cannot trust the certificate. */
  httpUrl: string;
  accountName: string;
  accountKey: string;
  poolId: string;
  /** PEM of the throw-away certificate when listening on HTTPS. */
  tlsCa?: string;
  nodeIds: string[];
  /** Kills the node's running task and puts it back in the queue (retry count unchanged, requeue count +1). */
  preempt(nodeId: string): Promise<void>;
  /** Makes the next matching attempt(s) exit non-zero without running the command line. */
  failNextTask(spec?: FailTaskSpec): void;
  /** Answers the next `n` calls with this status (429 or 503 by default with `Retry-After: retryAfterSeconds`). */
  throttleNext(n: number, status?: 429 | 500 | 503, retryAfterSeconds?: number): void;
  /** Every REST call answered, in order. */
  calls: RecordedCall[];
  /** Resolves when the job reaches `completed` (or rejects after the abort signal). */
  waitForJob(jobId: string, options?: { abortSignal?: AbortSignal }): Promise<void>;
  /** Resolves once some task of the job is running on a node; gives the node and task. */
  waitForRunningTask(jobId: string, options?: { abortSignal?: AbortSignal; taskId?: string }): Promise<{ nodeId: string; taskId: string }>;
  /** Directory of a task's last attempt (holds stdout.txt, stderr.txt, wd/). */
  taskDir(jobId: string, taskId: string): string | undefined;
  /** Stops the server, kills every process it started and removes its temp dirs. */
  stop(): Promise<void>;
}
