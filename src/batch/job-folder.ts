// Job state lives in storage beside the destination, under `.pixbatch/jobs/<jobId>/`, so a job
// outlives the machine that submitted it and any machine can re-attach to it.
import type { ConversionSpec, ImageRecord, OverwritePolicy, Store, WorkItem } from '../interfaces.js';
import { JobError } from '../errors.js';
import { isRemoteLocation, openStore } from '../store/index.js';
import { join } from 'node:path';

export const JOBS_FOLDER = '.pixbatch/jobs';
export const JOB_FILE = 'job.json';
export const REPORT_FILE = 'report.json';
export const REPORT_HTML_FILE = 'report.html';
/** Records of images decided at planning time (already up to date, unsafe names), written once. */
export const PLANNING_RESULTS = 'results/planning.jsonl';

/** `00042`: shard and result files sort in task order. */
export function shardNumber(index: number): string {
  return String(index).padStart(5, '0');
}
export function shardFile(index: number): string {
  return `shards/${shardNumber(index)}.jsonl`;
}
export function resultFile(index: number): string {
  return `results/${shardNumber(index)}.jsonl`;
}
export function taskIdFor(index: number): string {
  return `shard-${shardNumber(index)}`;
}
export function shardOfTask(taskId: string): number | undefined {
  const m = /^shard-(\d+)$/.exec(taskId);
  return m ? Number(m[1]) : undefined;
}

/** What `job.json` holds: everything a worker or a re-attaching client needs besides credentials. */
export interface JobFile {
  jobId: string;
  tool: { name: 'pixbatch'; version: string };
  createdAt: string;
  /** Locations without any query string: nodes reach storage with their managed identity, never a SAS. */
  source: string;
  destination: string;
  jobFolder: string;
  spec: ConversionSpec;
  options: { include: string[]; exclude: string[]; overwrite: OverwritePolicy; maxPixels: number; concurrency?: number; ioConcurrency?: number };
  shards: { count: number; size: number | 'round-robin'; items: number[] };
  planned: { total: number; convert: number; skip: number; fail: number };
  batch?: { accountUrl: string; poolId: string };
  bundle?: { url: string; sha256: string; version: string };
}

/** A location with its query string (SAS) removed. */
export function withoutQuery(location: string): string {
  return isRemoteLocation(location) ? location.split('?')[0]!.replace(/\/+$/, '') : location;
}

/** `<destination>/.pixbatch/jobs/<jobId>` for a folder or a Blob Storage location. */
export function jobFolderLocation(destination: string, jobId: string): string {
  const base = withoutQuery(destination);
  if (isRemoteLocation(base)) return `${base.replace(/\/+$/, '')}/${JOBS_FOLDER}/${jobId}`;
  return join(base, ...JOBS_FOLDER.split('/'), jobId);
}

export function toJsonl(rows: readonly unknown[]): Buffer {
  return Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

export function parseJsonl<T>(data: Buffer | string, what: string): T[] {
  const out: T[] = [];
  const lines = data.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      throw new JobError(`${what} line ${i + 1} is not JSON`);
    }
  }
  return out;
}

/** Reads and writes one job's folder through the Store interface. */
export class JobFolder {
  constructor(
    readonly store: Store,
    readonly location: string,
  ) {}

  static async open(location: string): Promise<JobFolder> {
    return new JobFolder(await openStore(location, 'destination'), withoutQuery(location));
  }

  async readJob(): Promise<JobFile> {
    let data: Buffer;
    try {
      data = await this.store.read(JOB_FILE);
    } catch (err) {
      throw new JobError(`No pixbatch job at ${this.location}: cannot read ${JOB_FILE} (${(err as Error).message})`, 'JobFolderNotFound', { cause: err });
    }
    return JSON.parse(data.toString('utf8')) as JobFile;
  }

  /** When job.json was written, by the storage's own clock. */
  async jobWrittenMs(): Promise<number | undefined> {
    return (await this.store.stat(JOB_FILE))?.mtimeMs;
  }

  async writeJob(job: JobFile): Promise<void> {
    await this.store.write(JOB_FILE, Buffer.from(JSON.stringify(job, null, 2) + '\n'), { contentType: 'application/json' });
  }

  async writeShard(index: number, items: readonly WorkItem[]): Promise<void> {
    await this.store.write(shardFile(index), toJsonl(items), { contentType: 'application/x-ndjson' });
  }

  async readShard(index: number): Promise<WorkItem[]> {
    return parseJsonl<WorkItem>(await this.store.read(shardFile(index)), shardFile(index));
  }

  async writeResults(name: string, records: readonly ImageRecord[]): Promise<void> {
    await this.store.write(name, toJsonl(records), { contentType: 'application/x-ndjson' });
  }

  /** A result file's records, or undefined when it was never written. */
  async readResults(name: string): Promise<ImageRecord[] | undefined> {
    let data: Buffer;
    try {
      data = await this.store.read(name);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseJsonl<ImageRecord>(data, name);
  }

  async close(): Promise<void> {
    await this.store.close?.();
  }
}
