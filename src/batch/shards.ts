// Cuts the planned work into shards: one Batch task per shard, each sized for minutes of work.
import pLimit from 'p-limit';
import type { ImageRecord, Store, WorkItem } from '../interfaces.js';
import type { ResolvedOptions } from '../options.js';
import { invalidOption } from '../errors.js';
import { plan } from '../plan/plan.js';
import { jobSignal } from '../engine/job-signal.js';
import { JobFolder, PLANNING_RESULTS } from './job-folder.js';
import { coresFromVmSize } from '../cost/prices.js';

/** Aim for tasks of a few minutes: Batch's per-task overhead is seconds. */
export const TARGET_TASK_SECONDS = 180;
/** Assumed conversion rate per core for a 2 MB JPEG (the original measured ~2.5/s per vCPU with Pillow). */
export const IMAGES_PER_CORE_SECOND = 5;
const REFERENCE_BYTES = 2 * 1024 * 1024;
/** With few images, still give every slot several tasks so a slow node does not hold up the end. */
const MIN_TASKS_PER_SLOT = 4;
export const MAX_SHARD_SIZE = 20_000;

export type ShardSize = number | 'auto';

export interface PoolShape {
  /** Nodes in the pool now (dedicated + spot). */
  nodes: number;
  /** vCPUs per node. */
  cores: number;
  /** Tasks a node runs at once. */
  slotsPerNode: number;
}

/** `auto` or a whole number of images per task. */
export function parseShardSize(value: unknown): ShardSize {
  if (value === undefined || value === null || value === '' || value === 'auto') return 'auto';
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_SHARD_SIZE) {
    throw invalidOption('shard-size', `"auto" or an integer between 1 and ${MAX_SHARD_SIZE}`, value);
  }
  return n;
}

/** vCPUs of an Azure VM size from its name (`Standard_D4s_v5` has 4); 2 when the name does not say. */
export function coresOfVmSize(vmSize: string | undefined): number {
  return Math.max(1, coresFromVmSize(vmSize ?? '') ?? 2);
}

/**
 * Images per task for `auto`: a few minutes of work for one slot's share of the node's cores,
 * scaled by the average input size, and small enough that every slot gets several tasks.
 */
export function autoShardSize(total: number, totalBytes: number, pool: PoolShape): number {
  if (total === 0) return 1;
  const slots = Math.max(1, pool.nodes) * Math.max(1, pool.slotsPerNode);
  const coresPerSlot = Math.max(1, pool.cores / Math.max(1, pool.slotsPerNode));
  const avgBytes = Math.max(1, totalBytes / total);
  const sizeFactor = Math.min(20, Math.max(0.05, REFERENCE_BYTES / avgBytes));
  const forTime = Math.floor(IMAGES_PER_CORE_SECOND * coresPerSlot * TARGET_TASK_SECONDS * sizeFactor);
  const forSpread = Math.ceil(total / (slots * MIN_TASKS_PER_SLOT));
  return Math.max(1, Math.min(MAX_SHARD_SIZE, forTime, forSpread));
}

/** Contiguous shards of `size` items; the last one may be short. */
export function cutShards<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The original assignment: `n` shards, shard i takes items i, i+n, i+2n, … */
export function roundRobinShards<T>(items: readonly T[], n: number): T[][] {
  const count = Math.max(1, Math.min(n, items.length));
  const out: T[][] = Array.from({ length: count }, () => []);
  items.forEach((item, i) => out[i % count]!.push(item));
  return items.length ? out : [];
}

export interface ShardPlan {
  /** Items per shard, in shard order. */
  shardItems: number[];
  size: number | 'round-robin';
  planned: { total: number; convert: number; skip: number; fail: number };
  /** Planning-time records (skips and failures), also written to `results/planning.jsonl`. */
  records: ImageRecord[];
  bytes: number;
}

export interface PlanShardsInput {
  source: Store;
  destination: Store;
  folder: JobFolder;
  options: ResolvedOptions;
  shardSize: ShardSize;
  roundRobin: boolean;
  pool: PoolShape;
  signal?: AbortSignal;
  /** Shard files written at once. */
  writeConcurrency?: number;
}

/**
 * Lists the source once, drops what is already up to date, and writes the rest as shard files
 * (`shards/NNNNN.jsonl`) in the job folder.
 */
export async function planShards(input: PlanShardsInput): Promise<ShardPlan> {
  const work: WorkItem[] = [];
  const records: ImageRecord[] = [];
  let total = 0;
  let bytes = 0;
  // The planner's stats in flight listen for abort on a signal of the planning's own (see jobSignal).
  const job = jobSignal(input.signal, input.options.ioConcurrency + 8);
  try {
    for await (const item of plan(input.source, input.destination, input.options, job.signal)) {
      total++;
      if (item.action === 'convert') {
        work.push({ name: item.name, output: item.output, size: item.size, etag: item.etag, mtimeMs: item.mtimeMs });
        bytes += item.size;
      } else if (item.action === 'skip') {
        records.push({ name: item.name, output: item.output, status: 'skipped', reason: item.reason });
      } else {
        records.push({ name: item.name, output: item.output, status: 'failed', code: item.code, reason: item.reason });
      }
    }
  } finally {
    job.release();
  }
  let shards: WorkItem[][];
  let size: number | 'round-robin';
  if (input.roundRobin) {
    shards = roundRobinShards(work, input.pool.nodes);
    size = 'round-robin';
  } else {
    size = input.shardSize === 'auto' ? autoShardSize(work.length, bytes, input.pool) : input.shardSize;
    shards = cutShards(work, size);
  }
  const limit = pLimit(input.writeConcurrency ?? 16);
  await Promise.all(shards.map((items, i) => limit(() => input.folder.writeShard(i, items))));
  await input.folder.writeResults(PLANNING_RESULTS, records);
  return {
    shardItems: shards.map((s) => s.length),
    size,
    planned: { total, convert: work.length, skip: records.filter((r) => r.status === 'skipped').length, fail: records.filter((r) => r.status === 'failed').length },
    records,
    bytes,
  };
}
