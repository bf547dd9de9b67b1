// The Batch account's state and its compute nodes: jobs, tasks, job schedules, and simulated
// nodes (one slot each) that run job preparation tasks and task command lines as local processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type {
  BatchJobScheduleSpec,
  BatchJobSpec,
  BatchTaskSpec,
  EnvironmentSetting,
  JobManagerTask,
  JobPatch,
  ResourceFile,
  TaskAddResult,
  TaskExecutionInfo,
  TaskFailureInfo,
  TaskState,
} from '../../src/batch/client.js';
import { downloadResourceFiles, ResourceFileError } from './resource-files.js';
import type { FailTaskSpec } from './types.js';
import { durationMs, ServiceError } from './validate.js';

/** Batch's "no limit" duration, as the service reports an unset maxWallClockTime. */
const UNBOUNDED = 'P10675199DT2H48M5.4775807S';

export interface ServiceOptions {
  url: string;
  accountName: string;
  poolId: string;
  nodes: number;
  rootDir: string;
  storageConnectionString?: string;
  taskEnvironment: Record<string, string>;
  timeScale: number;
  pool: Record<string, unknown>;
}

interface Attempt {
  child?: ChildProcess;
  /** Why the process was stopped from outside, if it was. */
  stoppedBy?: 'preempt' | 'terminate' | 'walltime';
}

interface TaskRec {
  job: JobRec;
  spec: BatchTaskSpec & Partial<Pick<JobManagerTask, 'killJobOnCompletion'>>;
  isJobManager: boolean;
  state: TaskState;
  previousState?: TaskState;
  stateTransitionTime: string;
  creationTime: string;
  lastModified: string;
  eTag: string;
  exec: TaskExecutionInfo;
  started: boolean;
  nodeId?: string;
  dir?: string;
  attempt?: Attempt;
}

interface JobRec {
  spec: BatchJobSpec;
  state: 'active' | 'terminating' | 'completed' | 'deleting';
  previousState?: string;
  stateTransitionTime: string;
  creationTime: string;
  lastModified: string;
  eTag: string;
  executionInfo: { startTime: string; endTime?: string; poolId: string; terminateReason?: string };
  tasks: Map<string, TaskRec>;
  order: TaskRec[];
  scheduleId?: string;
}

interface NodeRec {
  id: string;
  dir: string;
  busy?: TaskRec;
  /** The process running now (prep or task), so pre-emption can stop it. */
  current?: { attempt: Attempt };
  /** Job preparation outcome per job on this node. */
  prep: Map<string, 'ok' | 'failed'>;
  preempting?: Promise<void>;
}

interface ScheduleRec {
  spec: BatchJobScheduleSpec;
  state: 'active' | 'completed' | 'deleting';
  creationTime: string;
  lastModified: string;
  eTag: string;
  stateTransitionTime: string;
  nextRunTime?: string;
  timer?: NodeJS.Timeout;
  made: number;
  recentJob?: string;
  pending: boolean;
  endTime?: string;
}

const now = () => new Date().toISOString();
const etag = () => `0x${randomBytes(7).toString('hex').toUpperCase()}`;

/** A job manager task is listed as a CloudTask, which has no JobManagerTask-only properties. */
function cloudTaskSpec(spec: TaskRec['spec']): Record<string, unknown> {
  const { killJobOnCompletion, runExclusive, allowLowPriorityNode, ...task } = spec as unknown as Record<string, unknown>;
  return task;
}

function notFound(code: string, what: string): ServiceError {
  return new ServiceError(404, code, `The specified ${what} does not exist.`);
}

export class BatchService {
  readonly jobs = new Map<string, JobRec>();
  readonly schedules = new Map<string, ScheduleRec>();
  readonly nodes: NodeRec[];
  private readonly failures: Array<Required<Omit<FailTaskSpec, 'taskId'>> & { taskId?: string }> = [];
  private readonly listeners = new Set<() => void>();
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly o: ServiceOptions) {
    this.nodes = Array.from({ length: o.nodes }, (_, i) => ({
      id: `tvmps_${String(i + 1).padStart(3, '0')}_standin`,
      dir: join(o.rootDir, 'nodes', `node${i + 1}`),
      prep: new Map(),
    }));
  }

  async init(): Promise<void> {
    for (const n of this.nodes) await this.makeNodeDirs(n);
  }

  private async makeNodeDirs(n: NodeRec): Promise<void> {
    await mkdir(join(n.dir, 'shared'), { recursive: true });
    await mkdir(join(n.dir, 'startup'), { recursive: true });
    await mkdir(join(n.dir, 'workitems'), { recursive: true });
  }

  // ------------------------------------------------------------ change notification

  /** Resolves when `check()` is true, re-checking after every state change. */
  waitUntil(check: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (check()) return resolve();
      const onAbort = () => {
        this.listeners.delete(listener);
        reject(signal!.reason ?? new Error('aborted'));
      };
      const listener = () => {
        if (!check()) return;
        this.listeners.delete(listener);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.listeners.add(listener);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  // ------------------------------------------------------------ pool

  poolView(): Record<string, unknown> {
    return {
      id: this.o.poolId,
      url: `${this.o.url}/pools/${this.o.poolId}`,
      eTag: '0x8D0000000000001',
      state: 'active',
      allocationState: 'steady',
      vmSize: 'standard_d2s_v3',
      taskSlotsPerNode: 1,
      currentDedicatedNodes: this.nodes.length,
      targetDedicatedNodes: this.nodes.length,
      currentLowPriorityNodes: 0,
      targetLowPriorityNodes: 0,
      enableAutoScale: false,
      ...this.o.pool,
    };
  }

  getPool(poolId: string): Record<string, unknown> {
    if (poolId.toLowerCase() !== this.o.poolId.toLowerCase()) throw notFound('PoolNotFound', 'pool');
    return this.poolView();
  }

  // ------------------------------------------------------------ jobs

  private job(jobId: string): JobRec {
    const j = this.jobs.get(jobId.toLowerCase());
    if (!j || j.state === 'deleting') throw notFound('JobNotFound', 'job');
    return j;
  }

  addJob(spec: BatchJobSpec, scheduleId?: string): JobRec {
    // Ids are case-insensitive on the service.
    if (this.jobs.has(spec.id.toLowerCase())) throw new ServiceError(409, 'JobExists', 'The specified job already exists.');
    const t = now();
    const job: JobRec = {
      spec: { onAllTasksComplete: 'noaction', onTaskFailure: 'noaction', usesTaskDependencies: false, priority: 0, ...spec },
      state: 'active',
      stateTransitionTime: t,
      creationTime: t,
      lastModified: t,
      eTag: etag(),
      executionInfo: { startTime: t, poolId: spec.poolInfo.poolId },
      tasks: new Map(),
      order: [],
      scheduleId,
    };
    this.jobs.set(spec.id.toLowerCase(), job);
    if (spec.jobManagerTask) this.newTask(job, { ...spec.jobManagerTask }, true);
    this.afterTaskChange(job);
    return job;
  }

  jobView(job: JobRec): Record<string, unknown> {
    return {
      url: `${this.o.url}/jobs/${encodeURIComponent(job.spec.id)}`,
      eTag: job.eTag,
      lastModified: job.lastModified,
      creationTime: job.creationTime,
      state: job.state,
      stateTransitionTime: job.stateTransitionTime,
      ...(job.previousState ? { previousState: job.previousState } : {}),
      ...job.spec,
      constraints: { maxWallClockTime: UNBOUNDED, maxTaskRetryCount: 0, ...job.spec.constraints },
      executionInfo: job.executionInfo,
    };
  }

  getJob(jobId: string): Record<string, unknown> {
    return this.jobView(this.job(jobId));
  }

  listJobs(scheduleId?: string): Array<Record<string, unknown>> {
    if (scheduleId !== undefined) this.schedule(scheduleId);
    return [...this.jobs.values()]
      .filter((j) => j.state !== 'deleting' && (scheduleId === undefined || j.scheduleId?.toLowerCase() === scheduleId.toLowerCase()))
      .map((j) => this.jobView(j));
  }

  patchJob(jobId: string, patch: JobPatch): void {
    const job = this.job(jobId);
    if (job.state !== 'active') throw new ServiceError(409, 'JobCompleted', 'The specified job is already in a completed state.');
    if (patch.onAllTasksComplete === 'noaction' && job.spec.onAllTasksComplete === 'terminatejob') {
      throw new ServiceError(400, 'InvalidPropertyValue', 'The value provided for one of the properties in the request body is invalid.', [
        { key: 'PropertyName', value: 'onAllTasksComplete' },
        { key: 'Reason', value: 'Automatic job termination cannot be turned off once engaged' },
      ]);
    }
    Object.assign(job.spec, patch);
    job.lastModified = now();
    job.eTag = etag();
    this.afterTaskChange(job);
  }

  terminateJob(jobId: string, reason = 'UserTerminate'): void {
    const job = this.job(jobId);
    if (job.state !== 'active') throw new ServiceError(409, 'JobCompleted', 'The specified job is already in a completed state.');
    this.endJob(job, reason);
  }

  deleteJob(jobId: string): void {
    const job = this.job(jobId);
    this.setJobState(job, 'deleting');
    void this.track(
      this.stopJobProcesses(job).then(() => {
        this.jobs.delete(job.spec.id.toLowerCase());
        this.changed();
      }),
    );
  }

  private setJobState(job: JobRec, state: JobRec['state']): void {
    job.previousState = job.state;
    job.state = state;
    job.stateTransitionTime = job.lastModified = now();
    job.eTag = etag();
    this.changed();
  }

  /** Terminating: running tasks are stopped, tasks not started end, then the job completes. */
  private endJob(job: JobRec, reason: string): void {
    if (job.state !== 'active') return;
    this.setJobState(job, 'terminating');
    job.executionInfo.terminateReason = reason;
    // Tasks a node has claimed but not started are stopped with that node's work below.
    for (const t of job.order) if (t.state === 'active' && !t.attempt) this.completeTask(t, undefined);
    void this.track(
      this.stopJobProcesses(job).then(() => {
        if (job.state !== 'terminating') return;
        job.executionInfo.endTime = now();
        this.setJobState(job, 'completed');
        this.onJobCompleted(job);
      }),
    );
  }

  private async stopJobProcesses(job: JobRec): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const n of this.nodes) {
      if (n.busy?.job !== job) continue;
      this.stopNode(n, 'terminate');
      waits.push(this.waitForNodeIdle(n));
    }
    await Promise.all(waits);
  }

  /** Marks why the node's work stops and kills its process, if one is running. */
  private stopNode(n: NodeRec, why: NonNullable<Attempt['stoppedBy']>): void {
    if (!n.busy) return;
    const a = n.busy.attempt ?? (n.busy.attempt = {});
    a.stoppedBy ??= why;
    kill(a.child);
  }

  private waitForNodeIdle(n: NodeRec): Promise<void> {
    return this.waitUntil(() => n.busy === undefined || this.stopped);
  }

  // ------------------------------------------------------------ tasks

  private newTask(job: JobRec, spec: TaskRec['spec'], isJobManager: boolean): TaskRec {
    const t = now();
    const rec: TaskRec = {
      job,
      spec,
      isJobManager,
      state: 'active',
      stateTransitionTime: t,
      creationTime: t,
      lastModified: t,
      eTag: etag(),
      exec: { retryCount: 0, requeueCount: 0 },
      started: false,
    };
    job.tasks.set(spec.id.toLowerCase(), rec);
    if (isJobManager) job.order.unshift(rec);
    else job.order.push(rec);
    return rec;
  }

  addTasks(jobId: string, tasks: BatchTaskSpec[]): TaskAddResult[] {
    const job = this.job(jobId);
    if (job.state !== 'active') throw new ServiceError(409, 'JobCompleted', 'The specified job is already in a completed state.');
    const results: TaskAddResult[] = [];
    for (const spec of tasks) {
      if (job.tasks.has(spec.id.toLowerCase())) {
        results.push({
          status: 'clienterror',
          taskId: spec.id,
          error: { code: 'TaskExists', message: { lang: 'en-US', value: 'The specified task already exists.' } },
        });
        continue;
      }
      const rec = this.newTask(job, spec, false);
      results.push({
        status: 'success',
        taskId: spec.id,
        eTag: rec.eTag,
        lastModified: rec.lastModified,
        location: `${this.o.url}/jobs/${encodeURIComponent(job.spec.id)}/tasks/${encodeURIComponent(spec.id)}`,
      });
    }
    this.changed();
    this.pump();
    return results;
  }

  private task(jobId: string, taskId: string): TaskRec {
    const t = this.job(jobId).tasks.get(taskId.toLowerCase());
    if (!t) throw notFound('TaskNotFound', 'task');
    return t;
  }

  taskView(t: TaskRec): Record<string, unknown> {
    const node = t.nodeId ? this.nodes.find((n) => n.id === t.nodeId) : undefined;
    return {
      url: `${this.o.url}/jobs/${encodeURIComponent(t.job.spec.id)}/tasks/${encodeURIComponent(t.spec.id)}`,
      eTag: t.eTag,
      creationTime: t.creationTime,
      lastModified: t.lastModified,
      state: t.state,
      stateTransitionTime: t.stateTransitionTime,
      ...(t.previousState ? { previousState: t.previousState } : {}),
      ...cloudTaskSpec(t.spec),
      constraints: { maxWallClockTime: UNBOUNDED, retentionTime: 'P7D', maxTaskRetryCount: 0, ...t.spec.constraints },
      requiredSlots: 1,
      ...(t.started ? { executionInfo: { ...t.exec } } : {}),
      ...(node && t.dir
        ? {
            nodeInfo: {
              affinityId: `TVM:${node.id}`,
              nodeUrl: `${this.o.url}/pools/${this.o.poolId}/nodes/${node.id}`,
              poolId: this.o.poolId,
              nodeId: node.id,
              taskRootDirectory: `workitems/${t.job.spec.id}/job-1/${t.spec.id}`,
              taskRootDirectoryUrl: `${this.o.url}/pools/${this.o.poolId}/nodes/${node.id}/files/workitems/${t.job.spec.id}/job-1/${t.spec.id}`,
            },
          }
        : {}),
    };
  }

  listTasks(jobId: string): Array<Record<string, unknown>> {
    return this.job(jobId).order.map((t) => this.taskView(t));
  }

  getTask(jobId: string, taskId: string): Record<string, unknown> {
    return this.taskView(this.task(jobId, taskId));
  }

  taskCounts(jobId: string): Record<string, unknown> {
    const c = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
    for (const t of this.job(jobId).order) {
      if (t.state === 'active') c.active++;
      else if (t.state === 'completed') {
        c.completed++;
        if (t.exec.result === 'success') c.succeeded++;
        else c.failed++;
      } else c.running++;
    }
    return { taskCounts: c, taskSlotCounts: { ...c } };
  }

  taskDir(jobId: string, taskId: string): string | undefined {
    return this.jobs.get(jobId.toLowerCase())?.tasks.get(taskId.toLowerCase())?.dir;
  }

  /** A file under the task's directory on its node, e.g. `stderr.txt` or `wd/out.log`. */
  async taskFile(jobId: string, taskId: string, filePath: string): Promise<Buffer> {
    const t = this.task(jobId, taskId);
    if (filePath.split('/').includes('..') || filePath.startsWith('/')) throw notFound('FileNotFound', 'file');
    if (!t.dir) throw notFound('FileNotFound', 'file');
    try {
      return await readFile(join(t.dir, filePath));
    } catch {
      throw notFound('FileNotFound', 'file');
    }
  }

  // ------------------------------------------------------------ fault injection

  failNextTask(spec: FailTaskSpec = {}): void {
    this.failures.push({ taskId: spec.taskId, exitCode: spec.exitCode ?? 1, stderr: spec.stderr ?? 'injected failure\n', times: spec.times ?? 1 });
  }

  /** Pre-emption: the node's process dies, its task goes back to the queue, and the node comes back empty. */
  async preempt(nodeId: string): Promise<void> {
    const n = this.nodes.find((x) => x.id === nodeId);
    if (!n) throw new Error(`no node ${nodeId}`);
    if (n.preempting) return n.preempting;
    n.preempting = (async () => {
      if (n.busy) {
        const a = n.busy.attempt ?? (n.busy.attempt = {});
        a.stoppedBy = 'preempt';
        kill(a.child);
        await this.waitForNodeIdle(n);
      }
      n.prep.clear();
      await rm(n.dir, { recursive: true, force: true });
      await this.makeNodeDirs(n);
    })().finally(() => {
      n.preempting = undefined;
      this.pump();
    });
    return n.preempting;
  }

  // ------------------------------------------------------------ the nodes' scheduler

  private pump(): void {
    if (this.stopped) return;
    for (const node of this.nodes) {
      if (node.busy || node.preempting) continue;
      const t = this.nextTaskFor(node);
      if (!t) continue;
      node.busy = t;
      t.attempt = {};
      void this.track(this.runOnNode(node, t));
    }
  }

  private nextTaskFor(node: NodeRec): TaskRec | undefined {
    for (const job of this.jobs.values()) {
      if (job.state !== 'active') continue;
      if (job.spec.poolInfo.poolId.toLowerCase() !== this.o.poolId.toLowerCase()) continue;
      if (node.prep.get(job.spec.id) === 'failed') continue;
      // A task with an attempt is already claimed by a node that has not started it yet.
      for (const t of job.order) if (t.state === 'active' && !t.attempt) return t;
    }
    return undefined;
  }

  private setTaskState(t: TaskRec, state: TaskState): void {
    t.previousState = t.state;
    t.state = state;
    t.stateTransitionTime = t.lastModified = now();
    t.eTag = etag();
    this.changed();
  }

  private async runOnNode(node: NodeRec, t: TaskRec): Promise<void> {
    const job = t.job;
    try {
      t.nodeId = node.id;
      const prep = job.spec.jobPreparationTask;
      if (prep && !node.prep.has(job.spec.id)) {
        this.setTaskState(t, 'preparing');
        const ok = await this.runPreparation(node, job, t.attempt!);
        if (t.attempt?.stoppedBy) return this.afterStopped(t);
        if (!ok && prep.waitForSuccess !== false) {
          node.prep.set(job.spec.id, 'failed');
          // Not this task's fault: back to the queue for a node whose preparation works.
          t.nodeId = undefined;
          t.attempt = undefined;
          this.setTaskState(t, 'active');
          return;
        }
        node.prep.set(job.spec.id, 'ok');
      }
      await this.runTask(node, t);
    } catch (err) {
      // The stand-in's own fault: show it as a server error rather than hang the test.
      this.completeTask(t, { category: 'servererror', code: 'StandInError', message: String((err as Error).stack ?? err) });
    } finally {
      node.busy = undefined;
      node.current = undefined;
      this.changed();
      this.afterTaskChange(job);
    }
  }

  /** Runs the job preparation task once on this node (with its own retries); true when it succeeded. */
  private async runPreparation(node: NodeRec, job: JobRec, attempt: Attempt): Promise<boolean> {
    const prep = job.spec.jobPreparationTask!;
    const dir = this.prepDir(node, job);
    const wd = join(dir, 'wd');
    const tries = 1 + Math.max(0, prep.constraints?.maxTaskRetryCount ?? 0);
    for (let i = 0; i < tries && !attempt.stoppedBy; i++) {
      await mkdir(wd, { recursive: true });
      try {
        await downloadResourceFiles(prep.resourceFiles, wd, this.downloadOptions());
      } catch (err) {
        await writeWhole(join(dir, 'stderr.txt'), `${(err as Error).message}\n`);
        continue;
      }
      const env = this.environment(node, job, prep.id ?? 'jobpreparation', dir, i, prep.environmentSettings);
      const r = await this.spawnIn(node, attempt, prep.commandLine, dir, env, prep.constraints?.maxWallClockTime);
      // Running out of time fails the preparation, not the task waiting for it.
      if (attempt.stoppedBy === 'walltime') attempt.stoppedBy = undefined;
      else if (r.exitCode === 0) return true;
    }
    return false;
  }

  private async runTask(node: NodeRec, t: TaskRec): Promise<void> {
    const job = t.job;
    const dir = join(node.dir, 'workitems', job.spec.id, 'job-1', t.spec.id);
    const wd = join(dir, 'wd');
    await mkdir(wd, { recursive: true });
    t.dir = dir;
    t.started = true;
    t.exec.startTime = now();
    delete t.exec.endTime;
    delete t.exec.exitCode;
    delete t.exec.failureInfo;
    delete t.exec.result;
    this.setTaskState(t, 'running');
    try {
      await downloadResourceFiles(t.spec.resourceFiles, wd, this.downloadOptions());
    } catch (err) {
      await writeWhole(join(dir, 'stderr.txt'), `${(err as Error).message}\n`);
      const code = err instanceof ResourceFileError ? err.code : 'BlobDownloadMiscError';
      return this.finishAttempt(t, undefined, { category: 'usererror', code, message: (err as Error).message });
    }
    const injected = this.takeFailure(t.spec.id);
    if (injected) {
      await writeWhole(join(dir, 'stdout.txt'), '');
      await writeWhole(join(dir, 'stderr.txt'), injected.stderr);
      return this.finishAttempt(t, injected.exitCode);
    }
    const env = this.environment(node, job, t.spec.id, dir, t.exec.retryCount, t.spec.environmentSettings);
    const r = await this.spawnIn(node, t.attempt!, t.spec.commandLine, dir, env, t.spec.constraints?.maxWallClockTime);
    if (t.attempt?.stoppedBy === 'walltime') {
      return this.finishAttempt(t, r.exitCode ?? undefined, {
        category: 'usererror',
        code: 'TaskEnded',
        message: 'The task was ended because it ran longer than its maximum wall clock time',
      }, false);
    }
    if (t.attempt?.stoppedBy) return this.afterStopped(t);
    return this.finishAttempt(t, r.exitCode ?? 137);
  }

  private afterStopped(t: TaskRec): void {
    const why = t.attempt?.stoppedBy;
    if (why === 'preempt') {
      // As Batch does for pre-emption: re-queued, retry count unchanged.
      t.exec.requeueCount++;
      t.exec.lastRequeueTime = now();
      t.nodeId = undefined;
      t.attempt = undefined;
      this.setTaskState(t, 'active');
    } else {
      this.completeTask(t, { category: 'usererror', code: 'TaskEnded', message: 'Task Was Ended by User Request' });
    }
  }

  private finishAttempt(t: TaskRec, exitCode: number | undefined, failure?: TaskFailureInfo, retryable = true): void {
    if (t.attempt?.stoppedBy === 'preempt' || t.attempt?.stoppedBy === 'terminate') return this.afterStopped(t);
    if (exitCode !== undefined) t.exec.exitCode = exitCode;
    if (exitCode === 0 && !failure) return this.completeTask(t, undefined, 'success');
    const max = t.spec.constraints?.maxTaskRetryCount ?? t.job.spec.constraints?.maxTaskRetryCount ?? 0;
    if (retryable && (max === -1 || t.exec.retryCount < max) && t.job.state === 'active') {
      t.exec.retryCount++;
      t.exec.lastRetryTime = now();
      t.attempt = undefined;
      this.setTaskState(t, 'active');
      return;
    }
    this.completeTask(
      t,
      failure ?? { category: 'usererror', code: 'FailureExitCode', message: 'The task exited with an exit code representing a failure' },
    );
  }

  private completeTask(t: TaskRec, failure: TaskFailureInfo | undefined, result?: 'success'): void {
    if (t.state === 'completed') return;
    if (t.started) {
      t.exec.endTime = now();
      t.exec.result = result ?? 'failure';
      if (failure) t.exec.failureInfo = failure;
    }
    t.attempt = undefined;
    this.setTaskState(t, 'completed');
    if (t.isJobManager && t.spec.killJobOnCompletion !== false && t.job.state === 'active') this.endJob(t.job, 'JMComplete');
  }

  private afterTaskChange(job: JobRec): void {
    if (job.state === 'active' && job.spec.onAllTasksComplete === 'terminatejob' && job.order.every((t) => t.state === 'completed')) {
      // As the REST reference says, a job with no tasks has all its tasks complete.
      this.endJob(job, 'AllTasksComplete');
    }
    this.pump();
  }

  private takeFailure(taskId: string): { exitCode: number; stderr: string } | undefined {
    const i = this.failures.findIndex((f) => f.taskId === undefined || f.taskId.toLowerCase() === taskId.toLowerCase());
    if (i < 0) return undefined;
    const f = this.failures[i]!;
    if (--f.times <= 0) this.failures.splice(i, 1);
    return f;
  }

  private prepDir(node: NodeRec, job: JobRec): string {
    return join(node.dir, 'workitems', job.spec.id, 'job-1', 'jobpreparation');
  }

  private downloadOptions() {
    const ids = (this.o.pool.identity as { userAssignedIdentities?: Array<{ resourceId: string }> } | undefined)?.userAssignedIdentities;
    return { storageConnectionString: this.o.storageConnectionString, poolIdentities: ids?.map((x) => x.resourceId) };
  }

  /** What a process on a node sees: the node's basic environment, the test's, the job's and task's settings, then AZ_BATCH_*. */
  private environment(
    node: NodeRec,
    job: JobRec,
    taskId: string,
    taskDir: string,
    retryCount: number,
    settings: EnvironmentSetting[] | undefined,
  ): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LANG: 'C.UTF-8',
      ...this.o.taskEnvironment,
    };
    for (const s of job.spec.commonEnvironmentSettings ?? []) env[s.name] = s.value ?? '';
    for (const s of settings ?? []) env[s.name] = s.value ?? '';
    const prepDir = this.prepDir(node, job);
    Object.assign(env, {
      AZ_BATCH_ACCOUNT_NAME: this.o.accountName,
      AZ_BATCH_ACCOUNT_URL: this.o.url,
      AZ_BATCH_POOL_ID: this.o.poolId,
      AZ_BATCH_JOB_ID: job.spec.id,
      AZ_BATCH_TASK_ID: taskId,
      AZ_BATCH_NODE_ID: node.id,
      AZ_BATCH_NODE_IS_DEDICATED: 'true',
      AZ_BATCH_NODE_ROOT_DIR: node.dir,
      AZ_BATCH_NODE_SHARED_DIR: join(node.dir, 'shared'),
      AZ_BATCH_NODE_STARTUP_DIR: join(node.dir, 'startup'),
      AZ_BATCH_TASK_DIR: taskDir,
      AZ_BATCH_TASK_WORKING_DIR: join(taskDir, 'wd'),
      AZ_BATCH_TASK_RETRY_COUNT: String(retryCount),
      AZ_BATCH_TASK_USER: '_azbatch',
    });
    if (job.spec.jobPreparationTask) {
      env.AZ_BATCH_JOB_PREP_DIR = prepDir;
      env.AZ_BATCH_JOB_PREP_WORKING_DIR = join(prepDir, 'wd');
    }
    return env;
  }

  /** Runs `/bin/sh -c commandLine` in `dir/wd`, output to `dir/stdout.txt` and `dir/stderr.txt`. */
  private async spawnIn(
    node: NodeRec,
    attempt: Attempt,
    commandLine: string,
    dir: string,
    env: Record<string, string>,
    maxWallClockTime: string | undefined,
  ): Promise<{ exitCode: number | null }> {
    await mkdir(join(dir, 'wd'), { recursive: true });
    if (attempt.stoppedBy || this.stopped) return { exitCode: null };
    const out = openSync(join(dir, 'stdout.txt'), 'w');
    const err = openSync(join(dir, 'stderr.txt'), 'w');
    let child: ChildProcess;
    try {
      // Its own process group, so a kill reaches everything the command line started.
      child = spawn('/bin/sh', ['-c', commandLine], { cwd: join(dir, 'wd'), env, stdio: ['ignore', out, err], detached: true });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    attempt.child = child;
    live.add(child);
    node.current = { attempt };
    const wall = maxWallClockTime ? durationMs(maxWallClockTime) : undefined;
    const timer =
      wall !== undefined
        ? setTimeout(() => {
            attempt.stoppedBy ??= 'walltime';
            kill(child);
          }, wall)
        : undefined;
    const exitCode = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(127));
      child.on('exit', (code) => resolve(code));
    });
    if (timer) clearTimeout(timer);
    live.delete(child);
    node.current = undefined;
    return { exitCode };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p)).catch(() => {});
    return p;
  }

  // ------------------------------------------------------------ job schedules

  private schedule(id: string): ScheduleRec {
    const s = this.schedules.get(id.toLowerCase());
    if (!s || s.state === 'deleting') throw notFound('JobScheduleNotFound', 'job schedule');
    return s;
  }

  addSchedule(spec: BatchJobScheduleSpec): void {
    if (this.schedules.has(spec.id.toLowerCase())) throw new ServiceError(409, 'JobScheduleExists', 'The specified job schedule already exists.');
    const t = now();
    const s: ScheduleRec = { spec, state: 'active', creationTime: t, lastModified: t, eTag: etag(), stateTransitionTime: t, made: 0, pending: false };
    this.schedules.set(spec.id.toLowerCase(), s);
    const first = spec.schedule.doNotRunUntil ? Math.max(0, Date.parse(spec.schedule.doNotRunUntil) - Date.now()) : 0;
    this.armSchedule(s, first);
  }

  private armSchedule(s: ScheduleRec, delayMs: number): void {
    if (this.stopped || s.state !== 'active') return;
    s.nextRunTime = new Date(Date.now() + delayMs).toISOString();
    s.timer = setTimeout(() => this.fireSchedule(s), delayMs);
  }

  /** A recurrence: makes a job, unless the previous one is still running (then it comes when that ends). */
  private fireSchedule(s: ScheduleRec): void {
    s.timer = undefined;
    if (s.state !== 'active') return;
    const after = s.spec.schedule.doNotRunAfter;
    if (after && Date.now() > Date.parse(after)) return this.completeSchedule(s);
    const recent = s.recentJob ? this.jobs.get(s.recentJob.toLowerCase()) : undefined;
    if (recent && recent.state !== 'completed') s.pending = true;
    else this.makeScheduledJob(s);
    const every = s.spec.schedule.recurrenceInterval ? durationMs(s.spec.schedule.recurrenceInterval) : undefined;
    if (every !== undefined) this.armSchedule(s, every / this.o.timeScale);
    else s.nextRunTime = undefined;
  }

  private makeScheduledJob(s: ScheduleRec): void {
    s.pending = false;
    const id = `${s.spec.id}:job-${++s.made}`;
    const spec = structuredClone(s.spec.jobSpecification);
    this.addJob({ id, ...spec }, s.spec.id);
    s.recentJob = id;
    s.lastModified = now();
    this.changed();
  }

  private onJobCompleted(job: JobRec): void {
    if (!job.scheduleId) return;
    const s = this.schedules.get(job.scheduleId.toLowerCase());
    if (!s || s.state !== 'active') return;
    if (s.pending) this.makeScheduledJob(s);
    else if (!s.spec.schedule.recurrenceInterval && !s.timer) this.completeSchedule(s);
  }

  private completeSchedule(s: ScheduleRec): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.state = 'completed';
    s.stateTransitionTime = s.lastModified = s.endTime = now();
    s.nextRunTime = undefined;
    this.changed();
  }

  scheduleView(s: ScheduleRec): Record<string, unknown> {
    return {
      url: `${this.o.url}/jobschedules/${encodeURIComponent(s.spec.id)}`,
      eTag: s.eTag,
      lastModified: s.lastModified,
      creationTime: s.creationTime,
      state: s.state,
      stateTransitionTime: s.stateTransitionTime,
      ...s.spec,
      executionInfo: {
        ...(s.nextRunTime ? { nextRunTime: s.nextRunTime } : {}),
        ...(s.recentJob ? { recentJob: { id: s.recentJob, url: `${this.o.url}/jobs/${encodeURIComponent(s.recentJob)}` } } : {}),
        ...(s.endTime ? { endTime: s.endTime } : {}),
      },
    };
  }

  getSchedule(id: string): Record<string, unknown> {
    return this.scheduleView(this.schedule(id));
  }

  listSchedules(): Array<Record<string, unknown>> {
    return [...this.schedules.values()].filter((s) => s.state !== 'deleting').map((s) => this.scheduleView(s));
  }

  /** Deleting a schedule deletes the jobs it made. */
  deleteSchedule(id: string): void {
    const s = this.schedule(id);
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.state = 'deleting';
    const jobs = [...this.jobs.values()].filter((j) => j.scheduleId === s.spec.id && j.state !== 'deleting');
    for (const j of jobs) this.deleteJob(j.spec.id);
    void this.track(
      this.waitUntil(() => jobs.every((j) => !this.jobs.has(j.spec.id.toLowerCase()))).then(() => {
        this.schedules.delete(s.spec.id.toLowerCase());
        this.changed();
      }),
    );
  }

  // ------------------------------------------------------------ shutdown

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.schedules.values()) if (s.timer) clearTimeout(s.timer);
    for (const n of this.nodes) this.stopNode(n, 'terminate');
    this.changed();
    await Promise.allSettled([...this.running]);
  }
}

/**
 * Writes a task file the stand-in makes up itself (not a process's streamed output) in one rename, so
 * a reader polling for it never sees it empty or half-written.
 */
async function writeWhole(path: string, text: string): Promise<void> {
  // Beside the task's folder, not in it: the task's file listing never shows the temporary name.
  const temp = join(dirname(dirname(path)), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(temp, text);
  await rename(temp, path);
}

/** Process groups still running, killed if the test process exits without stopping the stand-in. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) kill(c);
});

function kill(child: ChildProcess | undefined): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

export const newRequestId = randomUUID;
export type { ResourceFile };
