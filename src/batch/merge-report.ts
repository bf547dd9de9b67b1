// Merges the shards' result files into one report.json in the job folder: the same Summary the local
// engine returns, so `--json`, the summary text and the exit codes are the same on a pool.
import pLimit from 'p-limit';
import type { CostSummary, ImageRecord, Report, Summary } from '../interfaces.js';
import { SummaryBuilder } from '../report/summary.js';
import { VERSION } from '../version.js';
import { JobFolder, PLANNING_RESULTS, REPORT_FILE, REPORT_HTML_FILE, resultFile, shardOfTask, type JobFile } from './job-folder.js';
import type { FailedTask } from './watch.js';

export interface MergeInput {
  folder: JobFolder;
  job: JobFile;
  /** Tasks that ended in failure: their images without a result are reported as failed with the task's reason. */
  failedTasks?: FailedTask[];
  /** When the job ran (from the service), for the rate; defaults to job.json's time and now. */
  startedAt?: Date;
  finishedAt?: Date;
  /** Node time used and its price, when known. */
  cost?: CostSummary;
}

/**
 * Reads every shard's results, accounts for each planned image exactly once (an image with no result
 * is failed, naming its task), writes `report.json` and `report.html` to the job folder and returns the report.
 */
export async function mergeReport(input: MergeInput): Promise<Report> {
  const { folder, job } = input;
  const failedById = new Map((input.failedTasks ?? []).map((t) => [shardOfTask(t.id), t]));
  const images: ImageRecord[] = [...((await folder.readResults(PLANNING_RESULTS)) ?? [])];
  const limit = pLimit(16);
  const perShard = await Promise.all(
    Array.from({ length: job.shards.count }, (_, i) =>
      limit(async () => {
        const results = (await folder.readResults(resultFile(i))) ?? [];
        const byName = new Map(results.map((r) => [r.name, r]));
        if (byName.size >= (job.shards.items[i] ?? 0)) return [...byName.values()];
        // Some images have no result: the task failed, was cut short, or the job was ended.
        const failed = failedById.get(i);
        const why = failed
          ? `task shard-${String(i).padStart(5, '0')} failed${failed.exitCode !== undefined ? ` with exit code ${failed.exitCode}` : ''}${failed.failure ? ` (${failed.failure})` : ''}`
          : `task shard-${String(i).padStart(5, '0')} did not finish`;
        const missing = (await folder.readShard(i)).filter((item) => !byName.has(item.name));
        return [
          ...byName.values(),
          ...missing.map((item): ImageRecord => ({ name: item.name, output: item.output, status: 'failed', code: 'TASK_FAILED', reason: why, task: `shard-${String(i).padStart(5, '0')}` })),
        ];
      }),
    ),
  );
  for (const records of perShard) images.push(...records);

  const builder = new SummaryBuilder();
  for (const r of images) builder.add(r);
  const startedAt = input.startedAt ?? new Date(job.createdAt);
  const finishedAt = input.finishedAt ?? new Date();
  const seconds = Math.max(0, (finishedAt.getTime() - startedAt.getTime()) / 1000);
  const base: Summary = builder.result({
    source: job.source,
    destination: job.destination,
    spec: job.spec,
    jobId: job.jobId,
    ...(input.cost ? { cost: input.cost } : {}),
  });
  const report: Report = {
    ...base,
    seconds: Math.round(seconds * 1000) / 1000,
    imagesPerSecond: seconds > 0 ? Math.round((base.counts.converted / seconds) * 100) / 100 : 0,
    tool: { name: 'pixbatch', version: VERSION },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    images,
  };
  await folder.store.write(REPORT_FILE, Buffer.from(JSON.stringify(report, null, 2) + '\n'), { contentType: 'application/json' });
  const { renderHtmlReport } = await import('../report/html.js');
  await folder.store.write(REPORT_HTML_FILE, Buffer.from(renderHtmlReport(report)), { contentType: 'text/html; charset=utf-8' });
  return report;
}

/** The summary part of a report (what `--json` prints). */
export function summaryOf(report: Report): Summary {
  const { tool: _tool, startedAt: _s, finishedAt: _f, images: _i, ...summary } = report;
  return summary;
}
