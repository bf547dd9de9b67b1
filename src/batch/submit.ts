// Creates the Batch job and adds one task per shard with add-task-collection.
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { JobError } from '../errors.js';
import {
  isBatchError,
  MAX_COLLECTION_BODY_BYTES,
  MAX_TASKS_PER_COLLECTION,
  type BatchClient,
  type BatchJobScheduleSpec,
  type BatchJobSpec,
  type NameValuePair,
  type OperationOptions,
  type BatchTaskSpec,
  type EnvironmentSetting,
  type UserIdentity,
} from './client.js';
import { BUNDLE_NODE, BUNDLE_SCRIPT } from './bundle.js';
import { taskIdFor } from './job-folder.js';

/** Calls to add-task-collection in flight at once. */
export const TASK_COLLECTION_CONCURRENCY = 4;
/** Rounds of re-sending tasks that got a server error before giving up. */
const SERVER_ERROR_ROUNDS = 5;

/** Quotes one word for `/bin/sh`. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Where a node unpacks one build: keyed by its hash so a new build never mixes with an old one. */
export function bundleDirVar(sha256: string): string {
  return `$AZ_BATCH_NODE_SHARED_DIR/pixbatch-${sha256.slice(0, 16)}`;
}

/**
 * The preparation task's command line: unpack the bundle once per node into the shared directory
 * (into a temporary folder, then one rename, so a half-unpacked bundle is never used). One line:
 * how the Linux node agent splits a command line with newlines in it is not documented.
 * The archive is named relative to the working directory: the REST reference says resource files land
 * there (`filePath` is "relative to the Task's working directory") and that a command line should use
 * relative paths or the Batch variables. Tasks find the unpacked bundle through AZ_BATCH_NODE_SHARED_DIR,
 * not through a relative path: the layout between a task's and the shared directory is not documented.
 */
export function preparationCommand(sha256: string): string {
  const dir = bundleDirVar(sha256);
  const unpack = [
    't="$d.tmp.$$"',
    'rm -rf "$t"',
    'mkdir -p "$t"',
    'tar -xzf pixbatch.tar.gz -C "$t"',
    // Node's compile cache: every task on the node starts the same script, so it is parsed once.
    'mkdir -p "$t/.compile-cache"',
    'chmod 777 "$t/.compile-cache"',
    // Another job's preparation may have unpacked the same build first: keep that one.
    '{ mv -T "$t" "$d" 2>/dev/null || rm -rf "$t"; }',
  ].join(' && ');
  const script = `d="${dir}" && if [ ! -x "$d/${BUNDLE_NODE}" ]; then ${unpack}; fi && "$d/${BUNDLE_NODE}" "$d/${BUNDLE_SCRIPT}" --version`;
  return `/bin/sh -c ${shQuote(script)}`;
}

/**
 * Who the preparation task and every task run as: the same pool-wide non-admin user, so tasks can read
 * what the preparation task unpacked (the REST reference contradicts itself about the default user).
 */
export const TASK_USER: UserIdentity = { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } };

/** The command line of the task for one shard. */
export function workerCommand(sha256: string, jobFolder: string, shard: number, extra: string[] = []): string {
  const dir = bundleDirVar(sha256);
  const script = `NODE_COMPILE_CACHE="${dir}/.compile-cache" exec "${dir}/${BUNDLE_NODE}" "${dir}/${BUNDLE_SCRIPT}" worker --job-folder ${shQuote(jobFolder)} --shard ${shard}${extra.map((a) => ` ${shQuote(a)}`).join('')}`;
  return `/bin/sh -c ${shQuote(script)}`;
}

/** Metadata naming the submission that made a job or schedule, so that a replayed add can recognise its own work. */
export const META_SUBMISSION = 'pixbatch-submission';

/** A fresh id for one submission (one `convert --pool` or `schedule create`). */
export function newSubmissionId(): string {
  return randomUUID();
}

/**
 * Adds a job or a job schedule once. The retry policy replays a POST whose answer was lost; when the first
 * POST had succeeded, the replay answers 409 JobExists or JobScheduleExists. The one found is then ours when
 * its metadata carries this submission's id (from `spec.metadata`); otherwise the 409 is thrown as it came.
 */
async function addOnce(
  spec: { id: string; metadata?: NameValuePair[] },
  existsCode: string,
  add: () => Promise<void>,
  read: () => Promise<{ metadata?: NameValuePair[] }>,
): Promise<void> {
  const submission = spec.metadata?.find((m) => m.name === META_SUBMISSION)?.value;
  try {
    await add();
  } catch (err) {
    if (!submission || !isBatchError(err, existsCode)) throw err;
    const found = await read();
    if (found.metadata?.some((m) => m.name === META_SUBMISSION && m.value === submission)) return;
    throw err;
  }
}

/** `POST /jobs`, recognising a replay of this very add (see {@link META_SUBMISSION}). */
export function addJobOnce(client: BatchClient, job: BatchJobSpec, options: OperationOptions = {}): Promise<void> {
  return addOnce(job, 'JobExists', () => client.addJob(job, options), () => client.getJob(job.id, options));
}

/** `POST /jobschedules`, recognising a replay of this very add (see {@link META_SUBMISSION}). */
export function addJobScheduleOnce(client: BatchClient, schedule: BatchJobScheduleSpec, options: OperationOptions = {}): Promise<void> {
  return addOnce(schedule, 'JobScheduleExists', () => client.addJobSchedule(schedule, options), () => client.getJobSchedule(schedule.id, options));
}

export interface JobSpecInput {
  jobId: string;
  poolId: string;
  bundleUrl: string;
  bundleSha256: string;
  jobFolder: string;
  /** Resource id of the pool's user-assigned identity, used to download the bundle. */
  identityResourceId?: string;
  /** Ends the whole job after this long (ISO 8601 duration). */
  maxJobWallClockTime?: string;
  /** Recorded in the job's metadata so that a replayed add recognises the job as its own. */
  submissionId?: string;
}

export function jobSpec(input: JobSpecInput): BatchJobSpec {
  return {
    id: input.jobId,
    displayName: `pixbatch ${input.jobFolder.split('?')[0]}`.slice(0, 1024),
    poolInfo: { poolId: input.poolId },
    jobPreparationTask: {
      id: 'pixbatch-prepare',
      commandLine: preparationCommand(input.bundleSha256),
      resourceFiles: [
        {
          httpUrl: input.bundleUrl,
          filePath: 'pixbatch.tar.gz',
          ...(input.identityResourceId ? { identityReference: { resourceId: input.identityResourceId } } : {}),
        },
      ],
      userIdentity: TASK_USER,
      waitForSuccess: true,
      rerunOnNodeRebootAfterSuccess: true,
      constraints: { maxTaskRetryCount: 2, maxWallClockTime: 'PT15M' },
    },
    // Switched to 'terminatejob' once every task is added: a job with no tasks yet counts as complete.
    onAllTasksComplete: 'noaction',
    usesTaskDependencies: false,
    ...(input.maxJobWallClockTime ? { constraints: { maxWallClockTime: input.maxJobWallClockTime } } : {}),
    metadata: [
      { name: 'pixbatch-job-folder', value: input.jobFolder },
      { name: 'pixbatch-bundle-sha256', value: input.bundleSha256 },
      ...(input.submissionId ? [{ name: META_SUBMISSION, value: input.submissionId }] : []),
    ],
  };
}

export interface TaskSpecInput {
  sha256: string;
  jobFolder: string;
  shards: number;
  maxTaskRetryCount: number;
  /** ISO 8601 duration, e.g. `PT30M`. */
  maxWallClockTime: string;
  /** Client id of the node's user-assigned identity (`AZURE_CLIENT_ID` for DefaultAzureCredential). */
  identityClientId?: string;
  environment?: EnvironmentSetting[];
}

export function taskSpecs(input: TaskSpecInput): BatchTaskSpec[] {
  const env: EnvironmentSetting[] = [
    ...(input.identityClientId ? [{ name: 'AZURE_CLIENT_ID', value: input.identityClientId }] : []),
    ...(input.environment ?? []),
  ];
  return Array.from({ length: input.shards }, (_, i) => ({
    id: taskIdFor(i),
    displayName: `pixbatch shard ${i}`,
    commandLine: workerCommand(input.sha256, input.jobFolder, i),
    userIdentity: TASK_USER,
    ...(env.length ? { environmentSettings: env } : {}),
    constraints: { maxTaskRetryCount: input.maxTaskRetryCount, maxWallClockTime: input.maxWallClockTime },
  }));
}

export interface AddTasksResult {
  added: number;
  /** add-task-collection calls made, including re-sends. */
  calls: number;
}

/**
 * Adds the tasks in calls of at most 100 tasks (and 1 MB), several calls in flight. Tasks that got a
 * server error are sent again; a call refused as too large is split in half. A task that already exists
 * (a re-sent call that had in fact succeeded) counts as added.
 */
export async function addTasks(
  client: BatchClient,
  jobId: string,
  tasks: BatchTaskSpec[],
  options: { concurrency?: number; signal?: AbortSignal; onProgress?: (added: number) => void } = {},
): Promise<AddTasksResult> {
  const limit = pLimit(options.concurrency ?? TASK_COLLECTION_CONCURRENCY);
  let added = 0;
  let calls = 0;

  const send = async (chunk: BatchTaskSpec[]): Promise<void> => {
    let pending = chunk;
    for (let round = 0; pending.length; round++) {
      if (round > SERVER_ERROR_ROUNDS) {
        throw new JobError(`Could not add ${pending.length} task(s) to job ${jobId}: the service kept answering with server errors`, 'TaskAddFailed');
      }
      if (round > 0) await sleep(Math.min(8000, 250 * 2 ** round), options.signal);
      let results;
      try {
        calls++;
        results = await client.addTaskCollection(jobId, pending, { abortSignal: options.signal });
      } catch (err) {
        if (isBatchError(err, 'RequestBodyTooLarge') && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          await Promise.all([send(pending.slice(0, half)), send(pending.slice(half))]);
          return;
        }
        throw err;
      }
      const byId = new Map(pending.map((t) => [t.id, t]));
      const retry: BatchTaskSpec[] = [];
      for (const r of results) {
        if (r.status === 'success' || (r.status === 'clienterror' && r.error?.code === 'TaskExists')) {
          added++;
          byId.delete(r.taskId);
        } else if (r.status === 'servererror') {
          const t = byId.get(r.taskId);
          if (t) retry.push(t);
          byId.delete(r.taskId);
        } else {
          const msg = r.error?.message?.value ?? r.error?.code ?? 'client error';
          throw new JobError(`The service refused task ${r.taskId}: ${r.error?.code ?? ''} ${msg}`.trim(), r.error?.code);
        }
      }
      // A task the service did not answer for is sent again too.
      retry.push(...byId.values());
      options.onProgress?.(added);
      pending = retry;
    }
  };

  const chunks: BatchTaskSpec[][] = [];
  let current: BatchTaskSpec[] = [];
  let bytes = 20;
  for (const t of tasks) {
    const size = Buffer.byteLength(JSON.stringify(t)) + 1;
    if (current.length && (current.length >= MAX_TASKS_PER_COLLECTION || bytes + size > MAX_COLLECTION_BODY_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 20;
    }
    current.push(t);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  await Promise.all(chunks.map((c) => limit(() => send(c))));
  return { added, calls };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}
