import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ImageRecord, Report, Store, Summary } from '../interfaces.js';
import { resolveOptions, type ConvertOptions } from '../options.js';
import { countAhead, plan, type PlannedItem } from '../plan/plan.js';
import { ReportWriter } from '../report/report-writer.js';
import { SummaryBuilder } from '../report/summary.js';
import { nestedFolder, openStore } from '../store/index.js';
import { VERSION } from '../version.js';
import { withJobSpan, type PipelineObserver } from '../telemetry/index.js';
import { abortReasonOr, jobSignal } from './job-signal.js';
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
  // One span per run when telemetry is on; a dry run converts nothing and reports nothing.
  if (options.dryRun) return convertHere(options);
  const { spec } = resolveOptions(options);
  return withJobSpan('local', { format: spec.to, preset: spec.preset }, (observer) => convertHere(options, observer), (s) => ({ counts: { ...s.counts }, bytesIn: s.bytesIn, bytesOut: s.bytesOut }));
}

async function convertHere(options: ConvertOptions, observer?: PipelineObserver): Promise<Summary> {
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
  const reportPath = options.report ?? (options.htmlReport ? join(tmpdir(), `pixbatch-report-${process.pid}-${randomBytes(6).toString('hex')}.json`) : undefined);
  const report = reportPath ? await ReportWriter.open(reportPath) : undefined;
  // The planner's stats in flight, the listings and the pipeline's one link listen on this, not on the caller's signal.
  const job = jobSignal(options.signal, resolved.ioConcurrency + 10);
  const signal = job.signal;
  const onRecord = (r: ImageRecord) => {
    report?.add(r);
    options.onRecord?.(r);
  };
  try {
    await source.prepare?.('source');
    if (!resolved.dryRun) await destination.prepare?.('destination');
    const items = plan(source, destination, resolved, signal);
    const extra = { source: source.location, destination: destination.location, spec: resolved.spec };
    let summary: Summary;
    if (resolved.dryRun) {
      summary = await dryRun(items, onRecord);
      summary = { ...summary, ...extra, dryRun: true };
    } else {
      // Progress needs the total early; a listing only as fast as the conversions would give it at the end.
      const ahead = options.onProgress ? countAhead(source, resolved, signal) : undefined;
      try {
        summary = { ...(await runPipeline({ items, source, destination, options: resolved, onRecord, onProgress: options.onProgress, ahead: ahead?.progress, signal, observer })), ...extra };
      } finally {
        await ahead?.stop();
      }
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
    // A dry run's listing or a store's preparation cut by the abort also ends with the caller's reason.
    throw abortReasonOr(options.signal, err);
  } finally {
    job.release();
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
