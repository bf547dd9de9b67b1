// Batch job schedules: the same conversion re-run on a recurrence (for example every hour). Each
// job the schedule makes starts with a job manager task that plans the run on a node (only what is
// new or stale, thanks to up-to-date detection), writes the shards and adds one task per shard, with
// the same job preparation, task specs and job folder as `convert --pool`.
import { JobError, UsageError } from '../errors.js';
import type { Report, Store } from '../interfaces.js';
import type { EmailSettings } from '../report/email.js';
import { resolveOptions, type ConvertOptions } from '../options.js';
import { openStore } from '../store/index.js';
import { isBlobLocation } from '../store/location.js';
import { VERSION } from '../version.js';
import { BUNDLE_NODE, BUNDLE_SCRIPT, type Bundle } from './bundle.js';
import {
  BatchClient,
  isBatchError,
  type BatchJob,
  type BatchJobSchedule,
  type BatchJobScheduleSpec,
  type EnvironmentSetting,
  type JobManagerTask,
} from './client.js';
import { connectBatch, batchAccountUrl, type BatchAccountOptions } from './connect.js';
import { deployBundle, plainUrl, type DeployedBundle } from './deploy.js';
import { parseDuration, poolShape, poolWithIdentity } from './engine.js';
import { JOB_FILE, JobFolder, jobFolderLocation, REPORT_FILE, type JobFile } from './job-folder.js';
import { mergeReport, summaryOf } from './merge-report.js';
import { parseShardSize, planShards, type PoolShape, type ShardSize } from './shards.js';
import { nodeBatchCredential } from './node-identity.js';
import { addJobScheduleOnce, addTasks, bundleDirVar, jobSpec, META_SUBMISSION, newSubmissionId, shQuote, TASK_USER, taskSpecs } from './submit.js';

/** The job manager task's id in every scheduled job. */
export const SCHEDULE_MANAGER_TASK_ID = 'pixbatch-plan';
/** Environment setting that carries the run's settings to the job manager task. */
export const SCHEDULE_SETTINGS_VAR = 'PIXBATCH_SCHEDULE';
/** Metadata on the schedule and its jobs naming the schedule. */
export const META_SCHEDULE = 'pixbatch-schedule';

/** The conversion options a scheduled run keeps: the ones that decide what is converted and how. */
type ScheduledConversion = Pick<
  ConvertOptions,
  | 'to'
  | 'quality'
  | 'pngCompression'
  | 'preset'
  | 'resize'
  | 'fit'
  | 'watermark'
  | 'watermarkPosition'
  | 'watermarkOpacity'
  | 'keepMetadata'
  | 'include'
  | 'exclude'
  | 'overwrite'
  | 'concurrency'
  | 'ioConcurrency'
  | 'maxPixels'
>;

/** What the job manager task needs to plan and submit one run (no secrets: nodes sign in with their identity). */
export interface ScheduleSettings {
  scheduleId: string;
  source: string;
  destination: string;
  conversion: ScheduledConversion;
  shardSize: ShardSize;
  roundRobin: boolean;
  pool: { id: string; shape: PoolShape };
  maxTaskRetryCount: number;
  maxWallClockTime: string;
  identityResourceId?: string;
  identityClientId?: string;
  bundle: { url: string; sha256: string; version: string };
  /** Told when each run's report is written; mail is sent with the pool's identity (no connection string travels). */
  notify?: { to: string[]; email?: { endpoint: string; sender: string } };
}

export interface CreateScheduleOptions extends ScheduledConversion, BatchAccountOptions {
  scheduleId: string;
  source: string;
  destination: string;
  pool: string;
  /** ISO 8601 duration (`PT1H`) or minutes (default PT1H). */
  every?: string;
  /** No run before this time (ISO 8601); the first run is otherwise at once. */
  startAt?: string;
  /** No run after this time (ISO 8601). */
  endAt?: string;
  shardSize?: number | string;
  roundRobin?: boolean;
  maxTaskRetries?: number | string;
  maxTaskTime?: string;
  identityResourceId?: string;
  identityClientId?: string;
  /** Webhook URLs and `mailto:` targets told when each run's report is written. */
  notify?: string[];
  /** Endpoint and sender for `mailto:` targets (default: environment). */
  email?: Pick<EmailSettings, 'endpoint' | 'sender'>;
  /** Use this build instead of building (tests build once). */
  bundle?: Bundle;
  cacheDir?: string;
  client?: BatchClient;
  onStatus?: (line: string) => void;
}

export interface ScheduleInfo {
  id: string;
  state: string;
  every?: string;
  nextRunTime?: string;
  recentJobId?: string;
  source?: string;
  destination?: string;
  /** The jobs this schedule made, oldest first, when asked for. */
  jobs?: Array<{ id: string; state: string; startTime?: string; endTime?: string }>;
}

const SCHEDULE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function checkScheduleId(id: string): void {
  if (!SCHEDULE_ID.test(id)) {
    throw new UsageError(`Expected 1 to 64 letters, digits, hyphens or underscores for the schedule id but received "${id}"`);
  }
}

function isoTime(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`Expected an ISO 8601 date and time such as 2026-01-31T02:00:00Z for ${name} but received "${value}"`);
  return new Date(t).toISOString();
}

/**
 * The recurrence as an ISO 8601 duration. Schedule.recurrenceInterval (BatchService.json 2024-07-01.20.0):
 * "The minimum value is 1 minute. If you specify a lower value, the Batch service rejects the schedule".
 */
export function recurrence(value: string | undefined): string {
  const every = parseDuration('every', value, 'PT1H');
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(every)!;
  const seconds = ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60 + Number(m[4] ?? 0);
  if (seconds < 60) throw new UsageError(`Expected a recurrence of at least one minute (the shortest Batch allows) for every but received "${value}"`);
  return every;
}

function retries(value: number | string | undefined): number {
  if (value === undefined || value === '') return 3;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > 100) {
    throw new UsageError(`Expected integer between -1 and 100 for max-task-retries but received ${JSON.stringify(value)} of type ${typeof value}`);
  }
  return n;
}

/** The job manager's command line: the bundle's CLI, unpacked by the job preparation task. */
export function managerCommand(sha256: string): string {
  const dir = bundleDirVar(sha256);
  const script = `NODE_COMPILE_CACHE="${dir}/.compile-cache" exec "${dir}/${BUNDLE_NODE}" "${dir}/${BUNDLE_SCRIPT}" batch schedule run-job`;
  return `/bin/sh -c ${shQuote(script)}`;
}

/**
 * The job schedule for a conversion: each job gets the same preparation task as `convert --pool`
 * (the bundle as a resource file with the pool's identity) and a job manager task that plans and
 * submits the run; the job ends itself when its tasks are done.
 */
export function scheduleSpec(
  settings: ScheduleSettings,
  timing: { every: string; startAt?: string; endAt?: string },
  submissionId?: string,
): BatchJobScheduleSpec {
  const { id: _id, metadata: _metadata, ...base } = jobSpec({
    jobId: settings.scheduleId,
    poolId: settings.pool.id,
    bundleUrl: settings.bundle.url,
    bundleSha256: settings.bundle.sha256,
    jobFolder: settings.destination,
    identityResourceId: settings.identityResourceId,
  });
  const env: EnvironmentSetting[] = [
    { name: SCHEDULE_SETTINGS_VAR, value: JSON.stringify(settings) },
    ...(settings.identityClientId ? [{ name: 'AZURE_CLIENT_ID', value: settings.identityClientId }] : []),
  ];
  const manager: JobManagerTask = {
    id: SCHEDULE_MANAGER_TASK_ID,
    displayName: `pixbatch plan ${settings.scheduleId}`,
    commandLine: managerCommand(settings.bundle.sha256),
    environmentSettings: env,
    constraints: { maxTaskRetryCount: 2, maxWallClockTime: 'PT1H' },
    // The job goes on after planning: it ends when the shards' tasks are done.
    killJobOnCompletion: false,
    runExclusive: false,
    // The same user as the preparation task and the shards' tasks, so it can run the bundle that task unpacked.
    userIdentity: TASK_USER,
  };
  const metadata = [
    { name: META_SCHEDULE, value: settings.scheduleId },
    { name: 'pixbatch-bundle-sha256', value: settings.bundle.sha256 },
  ];
  return {
    id: settings.scheduleId,
    displayName: `pixbatch ${settings.source} -> ${settings.destination}`.slice(0, 1024),
    schedule: {
      recurrenceInterval: timing.every,
      ...(timing.startAt ? { doNotRunUntil: timing.startAt } : {}),
      ...(timing.endAt ? { doNotRunAfter: timing.endAt } : {}),
    },
    jobSpecification: {
      ...base,
      displayName: `pixbatch schedule ${settings.scheduleId}`,
      jobManagerTask: manager,
      // With a job manager the job is never empty, so it may end itself from the start.
      onAllTasksComplete: 'terminatejob',
      metadata,
    },
    // On the schedule only: it is what a replayed add reads back to know the schedule is its own.
    metadata: [...metadata, ...(submissionId ? [{ name: META_SUBMISSION, value: submissionId }] : [])],
  };
}

/**
 * Creates a job schedule that re-runs a conversion on a pool. Uploads the bundle first (once per version).
 *
 * @example
 * await createSchedule({
 *   scheduleId: 'hourly-png', pool: 'pixbatch', every: 'PT1H',
 *   source: 'https://acct.blob.core.windows.net/images', destination: 'https://acct.blob.core.windows.net/converted',
 *   batchAccountUrl: 'https://acct.westeurope.batch.azure.com',
 * });
 */
export async function createSchedule(options: CreateScheduleOptions): Promise<{ scheduleId: string; every: string; startAt?: string; bundle: DeployedBundle }> {
  checkScheduleId(options.scheduleId);
  for (const [what, loc] of [['source', options.source], ['destination', options.destination]] as const) {
    if (typeof loc !== 'string' || !isBlobLocation(loc)) {
      throw new UsageError(`Expected a Blob Storage location for the ${what} of a schedule (nodes cannot read this machine's folders) but received "${String(loc)}"`);
    }
  }
  const conversion: ScheduledConversion = {
    to: options.to,
    quality: options.quality,
    pngCompression: options.pngCompression,
    preset: options.preset,
    resize: options.resize,
    fit: options.fit,
    watermark: options.watermark,
    watermarkPosition: options.watermarkPosition,
    watermarkOpacity: options.watermarkOpacity,
    keepMetadata: options.keepMetadata,
    include: options.include,
    exclude: options.exclude,
    overwrite: options.overwrite,
    concurrency: options.concurrency,
    ioConcurrency: options.ioConcurrency,
    maxPixels: options.maxPixels,
  };
  // Validated here, so a bad flag fails now rather than on a node an hour later.
  resolveOptions(conversion);
  const notify = await scheduledNotify(options.notify, options.email);
  const every = recurrence(options.every);
  const startAt = isoTime('start', options.startAt);
  const endAt = isoTime('end', options.endAt);
  const shardSize = parseShardSize(options.shardSize);
  const status = options.onStatus ?? (() => {});
  const client = options.client ?? (await connectBatch(options));
  const accountUrl = options.client?.endpoint ?? batchAccountUrl(options);

  const { pool, identityResourceId, identityClientId } = await poolWithIdentity(client, options.pool, accountUrl, options);
  if (!identityClientId) {
    throw new UsageError(`Expected --identity-client-id: pool ${options.pool} does not say which client id its identity has, and each scheduled run signs in to Batch with it`);
  }
  status(`Checking the bundle for pixbatch ${VERSION} in the scripts container…`);
  const bundle = await deployBundle({ location: options.destination, bundle: options.bundle, cacheDir: options.cacheDir, log: status });
  const settings: ScheduleSettings = {
    scheduleId: options.scheduleId,
    source: plainUrl(options.source),
    destination: plainUrl(options.destination),
    conversion: JSON.parse(JSON.stringify(conversion)) as ScheduledConversion,
    shardSize,
    roundRobin: options.roundRobin === true,
    pool: { id: options.pool, shape: poolShape(pool) },
    maxTaskRetryCount: retries(options.maxTaskRetries),
    maxWallClockTime: parseDuration('max-task-time', options.maxTaskTime, 'PT1H'),
    identityResourceId,
    identityClientId,
    bundle: { url: bundle.url, sha256: bundle.sha256, version: bundle.version },
    ...(notify ? { notify } : {}),
  };
  try {
    await addJobScheduleOnce(client, scheduleSpec(settings, { every, startAt, endAt }, newSubmissionId()));
  } catch (err) {
    if (isBatchError(err, 'JobScheduleExists')) {
      throw new UsageError(`A schedule named ${options.scheduleId} already exists in ${accountUrl}; delete it first (pixbatch batch schedule delete ${options.scheduleId})`);
    }
    throw err;
  }
  return { scheduleId: options.scheduleId, every, startAt, bundle };
}

/** The notify settings a schedule carries to its nodes: targets checked now, mail endpoint and sender resolved now. */
async function scheduledNotify(targets: string[] | undefined, email: Pick<EmailSettings, 'endpoint' | 'sender'> | undefined): Promise<ScheduleSettings['notify']> {
  if (!targets?.length) return undefined;
  const { checkNotifyTargets } = await import('../report/notify.js');
  const { mailtoAddress, resolveEmailSettings } = await import('../report/email.js');
  checkNotifyTargets(targets, email);
  if (!targets.some((t) => mailtoAddress(t))) return { to: targets };
  const resolved = resolveEmailSettings(email);
  return { to: targets, email: { endpoint: resolved.endpoint, sender: resolved.sender } };
}

/** Tells the schedule's targets that a run ended; a failure is a warning on the task's stderr. */
async function notifyRunEnd(settings: ScheduleSettings, report: Report, email: EmailSettings | undefined): Promise<void> {
  if (!settings.notify?.to.length) return;
  const { notifyAll } = await import('../report/notify.js');
  const hints = { report: [`report: ${jobFolderLocation(settings.destination, report.jobId ?? '')}/report.json (and report.html)`, `summary again: pixbatch batch report ${report.jobId}`] };
  await notifyAll(settings.notify.to, summaryOf(report), { email: { ...settings.notify.email, ...email }, hints });
}

function settingsOf(s: { jobSpecification?: { jobManagerTask?: JobManagerTask } }): Partial<ScheduleSettings> {
  const v = s.jobSpecification?.jobManagerTask?.environmentSettings?.find((e) => e.name === SCHEDULE_SETTINGS_VAR)?.value;
  try {
    return v ? (JSON.parse(v) as ScheduleSettings) : {};
  } catch {
    return {};
  }
}

function infoOf(s: BatchJobSchedule): ScheduleInfo {
  const settings = settingsOf(s);
  return {
    id: s.id,
    state: s.state,
    every: s.schedule?.recurrenceInterval,
    nextRunTime: s.executionInfo?.nextRunTime,
    recentJobId: s.executionInfo?.recentJob?.id,
    source: settings.source,
    destination: settings.destination,
  };
}

/** The account's job schedules that pixbatch made, with their next run and most recent job. */
export async function listSchedules(
  options: BatchAccountOptions & { client?: BatchClient; withJobs?: boolean; abortSignal?: AbortSignal } = {},
): Promise<ScheduleInfo[]> {
  const client = options.client ?? (await connectBatch(options));
  const out: ScheduleInfo[] = [];
  for await (const s of client.listJobSchedules({ abortSignal: options.abortSignal })) {
    if (!s.metadata?.some((m) => m.name === META_SCHEDULE)) continue;
    const info = infoOf(s);
    if (options.withJobs) {
      const jobs: BatchJob[] = [];
      for await (const j of client.listJobsFromSchedule(s.id, { select: 'id,state,executionInfo,creationTime', abortSignal: options.abortSignal })) jobs.push(j);
      info.jobs = jobs
        .sort((a, b) => (a.creationTime ?? '').localeCompare(b.creationTime ?? ''))
        .map((j) => ({ id: j.id, state: j.state, startTime: j.executionInfo?.startTime, endTime: j.executionInfo?.endTime }));
    }
    out.push(info);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Deletes a schedule and the jobs it made (their outputs and job folders stay in storage). */
export async function deleteSchedule(options: BatchAccountOptions & { scheduleId: string; client?: BatchClient; abortSignal?: AbortSignal }): Promise<void> {
  const client = options.client ?? (await connectBatch(options));
  try {
    await client.deleteJobSchedule(options.scheduleId, { abortSignal: options.abortSignal });
  } catch (err) {
    if (isBatchError(err, 'JobScheduleNotFound')) throw new UsageError(`There is no schedule named ${options.scheduleId} in ${client.endpoint}`);
    throw err;
  }
}

/**
 * What a scheduled job's manager task does on the node: plan this run into the job's folder (only
 * images that are new or stale), record the folder on the job, and add one task per shard. With
 * nothing to convert, it writes the report at once and the job ends with it.
 */
export async function runScheduledJob(
  env: NodeJS.ProcessEnv = process.env,
  options: { client?: BatchClient; signal?: AbortSignal; /** Added to the schedule's mail settings (tests, embedding applications). */ email?: EmailSettings } = {},
): Promise<{ jobId: string; tasks: number; planned: JobFile['planned'] }> {
  const jobId = env.AZ_BATCH_JOB_ID;
  const accountUrl = env.AZ_BATCH_ACCOUNT_URL;
  const raw = env[SCHEDULE_SETTINGS_VAR];
  if (!jobId || !accountUrl || !raw) {
    throw new UsageError(`Expected to run as a scheduled job's manager task (AZ_BATCH_JOB_ID, AZ_BATCH_ACCOUNT_URL and ${SCHEDULE_SETTINGS_VAR} set)`);
  }
  let settings: ScheduleSettings;
  try {
    settings = JSON.parse(raw) as ScheduleSettings;
  } catch {
    throw new UsageError(`Expected JSON in ${SCHEDULE_SETTINGS_VAR}`);
  }
  // Signs in as the pool's user-assigned identity (AZURE_CLIENT_ID in this task's environment).
  const client = options.client ?? new BatchClient(accountUrl, await nodeBatchCredential(env));
  const resolved = resolveOptions(settings.conversion);
  const folderUrl = jobFolderLocation(settings.destination, jobId);
  let source: Store | undefined;
  let destination: Store | undefined;
  let folder: JobFolder | undefined;
  try {
    source = await openStore(settings.source, 'source');
    destination = await openStore(settings.destination, 'destination');
    await source.prepare?.('source');
    await destination.prepare?.('destination');
    folder = await JobFolder.open(folderUrl);
    await reportPreviousRun(settings, jobId, options.email);
    // A retried manager task keeps the plan it wrote: tasks it added may have run on those shards already.
    const earlier = (await folder.store.stat(JOB_FILE)) ? await folder.readJob() : undefined;
    if (earlier) return await submitPlanned(client, folder, earlier, settings, options.signal, options.email);
    const planned = await planShards({
      source,
      destination,
      folder,
      options: resolved,
      shardSize: settings.shardSize,
      roundRobin: settings.roundRobin,
      pool: settings.pool.shape,
      signal: options.signal,
    });
    const job: JobFile = {
      jobId,
      tool: { name: 'pixbatch', version: VERSION },
      createdAt: new Date().toISOString(),
      source: settings.source,
      destination: settings.destination,
      jobFolder: folderUrl,
      spec: resolved.spec,
      options: {
        include: resolved.include,
        exclude: resolved.exclude,
        overwrite: resolved.overwrite,
        maxPixels: resolved.maxPixels,
        ...(settings.conversion.concurrency !== undefined ? { concurrency: resolved.concurrency } : {}),
        ...(settings.conversion.ioConcurrency !== undefined ? { ioConcurrency: resolved.ioConcurrency } : {}),
      },
      shards: { count: planned.shardItems.length, size: planned.size, items: planned.shardItems },
      planned: planned.planned,
      batch: { accountUrl, poolId: settings.pool.id },
      bundle: settings.bundle,
    };
    await folder.writeJob(job);
    return await submitPlanned(client, folder, job, settings, options.signal, options.email);
  } finally {
    await source?.close?.();
    await destination?.close?.();
    await folder?.close();
  }
}

/**
 * Writes the previous run's report.json if nobody has (Batch starts a schedule's next job only after the
 * previous one ended, and nobody watched it). Its failed tasks are not known here: images without a
 * result are reported as not finished.
 */
async function reportPreviousRun(settings: ScheduleSettings, jobId: string, email: EmailSettings | undefined): Promise<void> {
  const m = /^(.+):job-(\d+)$/.exec(jobId);
  if (!m || Number(m[2]) < 2) return;
  const previous = await JobFolder.open(jobFolderLocation(settings.destination, `${m[1]}:job-${Number(m[2]) - 1}`));
  try {
    if (!(await previous.store.stat(JOB_FILE)) || (await previous.store.stat(REPORT_FILE))) return;
    const report = await mergeReport({ folder: previous, job: await previous.readJob() });
    await notifyRunEnd(settings, report, email);
  } catch (err) {
    // The report can still be made with `pixbatch batch report`; this run goes on.
    process.stderr.write(`pixbatch: could not write the previous run's report: ${(err as Error).message}\n`);
  } finally {
    await previous.close();
  }
}

/** Records the job folder on the job and adds one task per shard (tasks already there count as added). */
async function submitPlanned(
  client: BatchClient,
  folder: JobFolder,
  job: JobFile,
  settings: ScheduleSettings,
  signal: AbortSignal | undefined,
  email: EmailSettings | undefined,
): Promise<{ jobId: string; tasks: number; planned: JobFile['planned'] }> {
  const { jobId, jobFolder } = job;
  // `pixbatch batch status|report JOB_ID` find the folder from the job's metadata, as for convert --pool.
  await client.patchJob(
    jobId,
    {
      metadata: [
        { name: 'pixbatch-job-folder', value: jobFolder },
        { name: 'pixbatch-bundle-sha256', value: settings.bundle.sha256 },
        { name: META_SCHEDULE, value: settings.scheduleId },
      ],
    },
    { abortSignal: signal },
  );
  if (job.shards.count === 0) {
    // Nothing new: the report is complete now, and the job ends with this task.
    await notifyRunEnd(settings, await mergeReport({ folder, job }), email);
    return { jobId, tasks: 0, planned: job.planned };
  }
  const tasks = taskSpecs({
    sha256: settings.bundle.sha256,
    jobFolder,
    shards: job.shards.count,
    maxTaskRetryCount: settings.maxTaskRetryCount,
    maxWallClockTime: settings.maxWallClockTime,
    identityClientId: settings.identityClientId,
  });
  const added = await addTasks(client, jobId, tasks, { signal });
  if (added.added !== tasks.length) throw new JobError(`Added ${added.added} of ${tasks.length} tasks to job ${jobId}`);
  return { jobId, tasks: tasks.length, planned: job.planned };
}
