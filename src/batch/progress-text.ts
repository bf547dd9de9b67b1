// One line of job progress, for terminals and logs.
import type { WatchProgress } from './watch.js';

export function formatProgress(p: WatchProgress): string {
  const i = p.images;
  const t = p.tasks;
  const eta = p.etaSeconds === undefined ? '' : `, ETA ${formatDuration(p.etaSeconds)}`;
  return (
    `${p.jobId}: ${i.done}/${i.total} images (${i.converted} converted, ${i.skipped} skipped, ${i.failed} failed)` +
    ` | tasks ${t.active} active, ${t.running} running, ${t.completed}/${t.total} completed (${t.failed} failed)` +
    ` | ${p.rate.toFixed(1)} images/s${eta}`
  );
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
