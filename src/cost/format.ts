import type { CostEstimate } from './estimate.js';
import { formatBytes } from '../report/summary.js';

/** `$0.42`, `$0.0031`, `EUR 12.00`: enough digits that small jobs do not all read $0.00. */
export function formatMoney(amount: number | undefined, currency: string): string {
  if (amount === undefined) return 'n/a';
  const digits = amount !== 0 && Math.abs(amount) < 0.01 ? 4 : 2;
  const n = amount.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return currency === 'USD' ? `$${n}` : `${currency} ${n}`;
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * The estimate as a short table, dedicated beside spot.
 *
 * @example
 * process.stdout.write(formatEstimate(estimateCost({ ... })) + '\n');
 */
export function formatEstimate(e: CostEstimate): string {
  const money = (n: number | undefined) => formatMoney(n, e.currency);
  const hours = `${(e.nodeSeconds / 3600).toFixed(2)} h`;
  const rows: [string, string, string][] = [
    ['', 'dedicated', 'spot'],
    ['node time', hours, hours],
    ['compute', money(e.compute.dedicated), money(e.compute.spot)],
    ['storage transactions', money(e.transactions.cost), money(e.transactions.cost)],
    ['total for this job', money(e.total.dedicated), money(e.total.spot)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  const lines = [
    `estimate: ${e.images.toLocaleString('en-US')} images, ${formatBytes(e.bytesIn)} in, ~${formatBytes(e.bytesOut)} out, ` +
      `on a pool of ${e.nodes} × ${e.vmSize} (${e.coresPerNode} cores each) at ${e.perCoreImagesPerSecond.toFixed(2)} images/s per core, ~${formatDuration(e.wallSeconds)}`,
    ...rows.map((r) => `  ${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2].padStart(w2)}`),
    `  output storage: ${money(e.storage.perMonth)} per month (hot tier, ${formatBytes(e.storage.bytesOut)})`,
    ...e.notes.map((n) => `  note: ${n}`),
    `  ${e.priceLabel}`,
  ];
  return lines.join('\n');
}
