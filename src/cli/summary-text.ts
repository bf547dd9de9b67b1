import type { Summary } from '../interfaces.js';
import { formatBytes } from '../report/summary.js';

/** The human-readable end of a run: counts, bytes, time, rate, then each failure by name with its reason. */
export function printSummary(summary: Summary, out: NodeJS.WritableStream = process.stdout): void {
  const c = summary.counts;
  const verb = summary.dryRun ? 'would convert' : 'converted';
  const lines = [
    `${verb} ${c.converted}, skipped ${c.skipped}, failed ${c.failed} of ${c.total} images` +
      (summary.dryRun ? ` (${formatBytes(summary.bytesIn)} to read)` : ` in ${summary.seconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(1)} images/s)`),
  ];
  if (!summary.dryRun && c.converted > 0) {
    const ratio = summary.bytesIn > 0 ? ` (${((summary.bytesOut / summary.bytesIn) * 100).toFixed(0)}% of input)` : '';
    lines.push(`read ${formatBytes(summary.bytesIn)}, wrote ${formatBytes(summary.bytesOut)}${ratio}`);
  }
  if (summary.cost?.total !== undefined) lines.push(`cost: ${summary.cost.total.toFixed(4)} ${summary.cost.currency}`);
  const shown = summary.failures.slice(0, 50);
  for (const f of shown) lines.push(`  failed ${f.name}: ${f.code} ${f.message}`);
  if (summary.failures.length > shown.length) lines.push(`  … and ${summary.failures.length - shown.length} more (see --report or --json)`);
  out.write(`${lines.join('\n')}\n`);
}
