import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ImageRecord, Report, Store, Summary } from '../interfaces.js';
import { resolveOptions, type ConvertOptions } from '../options.js';
import { plan, type PlannedItem } from '../plan/plan.js';
import { ReportWriter } from '../report/report-writer.js';
import { SummaryBuilder } from '../report/summary.js';
import { nestedFolder, openStore } from '../store/index.js';
import { VERSION } from '../version.js';
import { runPipeline } from './pipeline.js';

async function storeFor(location: string | Store, role: 'source' | 'destination', skipDirs?: string[]): Promise<Store> {
  return typeof location === 'string' ? openStore(location, role, { skipDirs }) : location;
}

/**
 * Converts every selected image from `source` to `destination` in this process and returns the summary.
 * The CLI's `pixbatch convert` is a thin shell over this.
 *
 * @example
 * import { convert } from 'pixbatch';
 * const summary = await convert({ source: './photos', destination: './png', preset: 'fast' });
 * if (summary.counts.failed) console.error(summary.failures);
 */
export async function convert(options: ConvertOptions): Promise<Summary> {
  const resolved = resolveOptions(options);
  // The webhook and the HTML page load only when asked for, so a plain run starts without them.
  const notifier = options.notify?.length ? await import('../report/notify.js') : undefined;
  const targets = notifier?.checkNotifyTargets(options.notify, options.email) ?? [];
  const told = { email: options.email, hints: { report: reportHints(options) } };
  const nested =
    typeof options.source === 'string' && typeof options.destination === 'string' ? nestedFolder(options.source, options.destination) : undefined;
  const source = await storeFor(options.source, 'source', nested ? [nested] : undefined);
  const destination = await storeFor(options.destination, 'destination');
  const startedAt = new Date();
  // The HTML page is rendered from the JSON report, so one is written (to a temporary file if not asked for).
  const reportPath = options.report ?? (options.htmlReport ? join(tmpdir(), `pixbatch-report-${process.pid}-${Date.now()}.json`) : undefined);
  const report = reportPath ? await ReportWriter.open(reportPath) : undefined;
  const onRecord = (r: ImageRecord) => {
    report?.add(r);
    options.onRecord?.(r);
  };
  try {
    await source.prepare?.('source');
    if (!resolved.dryRun) await destination.prepare?.('destination');
    const items = plan(source, destination, resolved, options.signal);
    const extra = { source: source.location, destination: destination.location, spec: resolved.spec };
    let summary: Summary;
    if (resolved.dryRun) {
      summary = await dryRun(items, onRecord);
      summary = { ...summary, ...extra, dryRun: true };
    } else {
      summary = { ...(await runPipeline({ items, source, destination, options: resolved, onRecord, onProgress: options.onProgress, signal: options.signal })), ...extra };
    }
    await report?.finish({ ...summary, tool: { name: 'pixbatch', version: VERSION }, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString() });
    if (options.htmlReport && reportPath) {
      const { writeHtmlReport } = await import('../report/html.js');
      await writeHtmlReport(options.htmlReport, JSON.parse(await readFile(reportPath, 'utf8')) as Report);
      if (!options.report) await rm(reportPath, { force: true });
    }
    if (notifier && !resolved.dryRun) await notifier.notifyAll(targets, summary, { ...told, signal: options.signal });
    return summary;
  } catch (err) {
    await report?.abandon();
    if (notifier && !resolved.dryRun && !options.signal?.aborted) {
      const failed: Summary = {
        counts: { total: 0, converted: 0, skipped: 0, failed: 0 },
        bytesIn: 0, bytesOut: 0, seconds: (Date.now() - startedAt.getTime()) / 1000, imagesPerSecond: 0, failures: [],
        source: source.location, destination: destination.location, spec: resolved.spec,
        error: err instanceof Error ? err.message : String(err),
      };
      await notifier.notifyAll(targets, failed, { ...told, outcome: 'failed' });
    }
    throw err;
  } finally {
    await source.close?.();
    await destination.close?.();
  }
}

/** Where a mail says the run's reports are. */
function reportHints(options: ConvertOptions): string[] {
  return [
    ...(options.report ? [`report: ${resolve(options.report)}`] : []),
    ...(options.htmlReport ? [`HTML report: ${resolve(options.htmlReport)}`] : []),
  ];
}

/** Plans without converting: what would be converted is recorded as `planned`. */
async function dryRun(items: AsyncIterable<PlannedItem>, onRecord: (r: ImageRecord) => void): Promise<Summary> {
  const summary = new SummaryBuilder();
  for await (const item of items) {
    const record: ImageRecord =
      item.action === 'convert'
        ? { name: item.name, output: item.output, status: 'planned', bytesIn: item.size, reason: item.reason }
        : item.action === 'skip'
          ? { name: item.name, output: item.output, status: 'skipped', reason: item.reason }
          : { name: item.name, output: item.output, status: 'failed', code: item.code, reason: item.reason };
    summary.add(record);
    onRecord(record);
  }
  return { ...summary.result(), imagesPerSecond: 0 };
}
