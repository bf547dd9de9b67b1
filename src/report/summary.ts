import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Failure, ImageRecord, Report, Summary } from '../interfaces.js';

/** Adds up image records into the summary `--json` prints and `convert()` returns. */
export class SummaryBuilder {
  private readonly summary: Summary = {
    counts: { total: 0, converted: 0, skipped: 0, failed: 0 },
    bytesIn: 0,
    bytesOut: 0,
    seconds: 0,
    imagesPerSecond: 0,
    failures: [],
  };
  private readonly started = performance.now();

  add(record: ImageRecord): void {
    const s = this.summary;
    s.counts.total++;
    if (record.status === 'converted' || record.status === 'planned') {
      // In a dry run, "converted" counts what would be converted, and bytesIn what would be read.
      s.counts.converted++;
      s.bytesIn += record.bytesIn ?? 0;
      s.bytesOut += record.bytesOut ?? 0;
    } else if (record.status === 'failed') {
      s.counts.failed++;
      s.failures.push({ name: record.name, code: record.code ?? 'CONVERT_FAILED', message: record.reason ?? 'failed' } satisfies Failure);
    } else {
      s.counts.skipped++;
    }
  }

  get counts() {
    return this.summary.counts;
  }

  get bytesIn() {
    return this.summary.bytesIn;
  }

  get bytesOut() {
    return this.summary.bytesOut;
  }

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** The summary so far; `imagesPerSecond` counts converted images over wall time. */
  result(extra: Partial<Summary> = {}): Summary {
    const seconds = this.elapsedMs() / 1000;
    return {
      ...this.summary,
      counts: { ...this.summary.counts },
      failures: [...this.summary.failures],
      seconds: Math.round(seconds * 1000) / 1000,
      imagesPerSecond: seconds > 0 ? Math.round((this.summary.counts.converted / seconds) * 100) / 100 : 0,
      ...extra,
    };
  }
}

/**
 * Bytes for people, in steps of 1024 (the GB the cost estimate prices storage per): `512 B`, `3.0 MB`.
 * The CLI's summary, the job-end mail and the cost estimate all print sizes with it.
 *
 * @example
 * formatBytes(3 * 1024 * 1024); // '3.0 MB'
 */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Exit code for a finished run: 0 when nothing failed, 1 when some images failed. */
export function exitCodeOf(summary: Summary): number {
  return summary.counts.failed > 0 ? 1 : 0;
}

/** Writes a JSON report atomically (temporary name, then rename). */
export async function writeReport(path: string, report: Report): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Unique per call: two writes of one path in one process must not share a temporary file.
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, `${JSON.stringify(report, null, 2)}\n`);
  await rename(tmp, path);
}
