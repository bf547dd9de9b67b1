import type { CostSummary, Counts, FailureCode, ImageRecord, Report } from '../interfaces.js';
import { formatBytes } from './summary.js';

/** Most points the completion chart gets, however many images the report holds. */
export const MAX_TIMELINE_BUCKETS = 400;

/** Completion chart: one point per time bucket, so a million records stay a few kilobytes. */
export interface TimelineModel {
  /** Bucket width in milliseconds (a 1-2-5 step). */
  bucketMs: number;
  /** Start of each bucket, in seconds since the epoch (what the chart plots). */
  t: number[];
  /** Images converted and failed that finished in each bucket. */
  converted: number[];
  failed: number[];
}

/** One row of the per-task or per-node table. */
export interface GroupRow {
  name: string;
  images: number;
  converted: number;
  skipped: number;
  failed: number;
  bytesIn: number;
  bytesOut: number;
  /** The two byte counts as the CLI prints them (`formatBytes`): the page's script cannot import it. */
  bytesInText: string;
  bytesOutText: string;
  /** Converted and failed images per second while this group was working; null when it did no work. */
  rate: number | null;
}

export interface FailureRow {
  name: string;
  code?: FailureCode | string;
  reason: string;
  task?: string;
  node?: string;
}

/** Everything the page shows: the one JSON blob embedded in the HTML report. */
export interface ReportPageModel {
  tool: string;
  jobId?: string;
  source?: string;
  destination?: string;
  startedAt?: string;
  finishedAt?: string;
  dryRun: boolean;
  spec?: Report['spec'];
  counts: Counts;
  bytesIn: number;
  bytesOut: number;
  /** The two byte counts as the CLI summary prints them (`formatBytes`). */
  bytesInText: string;
  bytesOutText: string;
  seconds: number;
  imagesPerSecond: number;
  cost?: CostSummary;
  timeline: TimelineModel | null;
  byTask: GroupRow[];
  byNode: GroupRow[];
  failures: FailureRow[];
}

/** The label of records that name no task or node: the local engine's. */
export const LOCAL_GROUP = 'local';

/** Smallest 1-2-5 step (in ms, at least 1 ms) that fits `spanMs` in `maxBuckets` buckets. */
export function bucketWidth(spanMs: number, maxBuckets: number = MAX_TIMELINE_BUCKETS): number {
  const target = Math.max(1, spanMs / maxBuckets);
  let magnitude = 1;
  for (;;) {
    for (const step of [1, 2, 5]) {
      if (step * magnitude >= target) return step * magnitude;
    }
    magnitude *= 10;
  }
}

function finished(r: ImageRecord): boolean {
  return r.status === 'converted' || r.status === 'failed';
}

function timeline(images: readonly ImageRecord[]): TimelineModel | null {
  let min = Infinity;
  let max = -Infinity;
  for (const r of images) {
    if (!finished(r) || typeof r.at !== 'number' || !Number.isFinite(r.at)) continue;
    if (r.at < min) min = r.at;
    if (r.at > max) max = r.at;
  }
  if (min === Infinity) return null;
  const bucketMs = bucketWidth(max - min);
  const start = Math.floor(min / bucketMs) * bucketMs;
  const n = Math.floor((max - start) / bucketMs) + 1;
  const converted = new Array<number>(n).fill(0);
  const failed = new Array<number>(n).fill(0);
  for (const r of images) {
    if (!finished(r) || typeof r.at !== 'number' || !Number.isFinite(r.at)) continue;
    const i = Math.floor((r.at - start) / bucketMs);
    if (r.status === 'converted') converted[i]++;
    else failed[i]++;
  }
  const t = Array.from({ length: n }, (_, i) => (start + i * bucketMs) / 1000);
  return { bucketMs, t, converted, failed };
}

interface GroupAcc extends Omit<GroupRow, 'bytesInText' | 'bytesOutText'> {
  first: number;
  last: number;
}

function groups(images: readonly ImageRecord[], key: 'task' | 'node'): GroupRow[] {
  const byName = new Map<string, GroupAcc>();
  for (const r of images) {
    const name = r[key] ?? LOCAL_GROUP;
    let g = byName.get(name);
    if (!g) {
      g = { name, images: 0, converted: 0, skipped: 0, failed: 0, bytesIn: 0, bytesOut: 0, rate: null, first: Infinity, last: -Infinity };
      byName.set(name, g);
    }
    g.images++;
    if (r.status === 'converted') g.converted++;
    else if (r.status === 'skipped') g.skipped++;
    else if (r.status === 'failed') g.failed++;
    g.bytesIn += r.bytesIn ?? 0;
    g.bytesOut += r.bytesOut ?? 0;
    if (finished(r) && typeof r.at === 'number') {
      // A record is stamped when it finishes; its own duration says when the group started working.
      g.first = Math.min(g.first, r.at - (r.ms ?? 0));
      g.last = Math.max(g.last, r.at);
    }
  }
  const rows: GroupRow[] = [];
  for (const { first, last, ...sums } of byName.values()) {
    const row: GroupRow = { ...sums, bytesInText: formatBytes(sums.bytesIn), bytesOutText: formatBytes(sums.bytesOut) };
    const done = row.converted + row.failed;
    if (done > 0 && last >= first) row.rate = done / Math.max((last - first) / 1000, 0.001);
    rows.push(row);
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

function failures(report: Report): FailureRow[] {
  const rows: FailureRow[] = [];
  const seen = new Set<string>();
  for (const r of report.images ?? []) {
    if (r.status !== 'failed') continue;
    seen.add(r.name);
    rows.push({ name: r.name, code: r.code, reason: r.reason ?? '', task: r.task, node: r.node });
  }
  // A summary-only report (no per-image records) still lists its failures.
  for (const f of report.failures ?? []) {
    if (seen.has(f.name)) continue;
    seen.add(f.name);
    rows.push({ name: f.name, code: f.code, reason: f.message });
  }
  return rows;
}

/** Reduces a report to what its HTML page shows: per-image records become buckets and per-group rows. */
export function buildPageModel(report: Report): ReportPageModel {
  const images = Array.isArray(report.images) ? report.images : [];
  const withTask = images.some((r) => r.task !== undefined);
  const withNode = images.some((r) => r.node !== undefined);
  return {
    tool: `${report.tool?.name ?? 'pixbatch'} ${report.tool?.version ?? ''}`.trim(),
    jobId: report.jobId,
    source: report.source,
    destination: report.destination,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    dryRun: report.dryRun === true,
    spec: report.spec,
    counts: report.counts,
    bytesIn: report.bytesIn,
    bytesOut: report.bytesOut,
    bytesInText: formatBytes(report.bytesIn),
    bytesOutText: formatBytes(report.bytesOut),
    seconds: report.seconds,
    imagesPerSecond: report.imagesPerSecond,
    cost: report.cost,
    timeline: timeline(images),
    // The local engine names no tasks or nodes: one row says so rather than two empty tables.
    byTask: withTask || !withNode ? groups(images, 'task') : [],
    byNode: withNode ? groups(images, 'node') : [],
    failures: failures(report),
  };
}
