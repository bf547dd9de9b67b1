import type { ProgressEvent } from '../interfaces.js';

export interface ProgressReporter {
  update(event: ProgressEvent): void;
  stop(): void;
}

function eta(event: ProgressEvent, rate: number): string {
  if (event.listing || rate <= 0) return '?';
  const s = Math.round((event.total - event.done) / rate);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The line written to a log: `converting: 506/3000 done (…), 41.2 img/s, ETA 1m01s`; `+` after a total still growing. */
export function progressLine(label: string, e: ProgressEvent): string {
  const rate = e.elapsedMs > 0 ? (e.converted / e.elapsedMs) * 1000 : 0;
  return `${label}: ${e.done}/${e.total}${e.listing ? '+' : ''} done (${e.converted} converted, ${e.skipped} skipped, ${e.failed} failed), ${rate.toFixed(1)} img/s, ETA ${eta(e, rate)}`;
}

/**
 * Progress on stderr: a bar with done/total, images/s and ETA on a terminal; a plain line every
 * `intervalMs` otherwise (logs and CI); nothing when quiet. The bar's library loads only for a terminal.
 */
export async function progressReporter(options: { quiet: boolean; tty?: boolean; intervalMs?: number; label?: string }): Promise<ProgressReporter> {
  if (options.quiet) return { update() {}, stop() {} };
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  const label = options.label ?? 'converting';
  if (tty) {
    const { default: cliProgress } = await import('cli-progress');
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} {bar} {value}/{total}{more} | {rate} img/s | ETA {eta_h} | {failed} failed`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(e) {
        const rate = e.elapsedMs > 0 ? (e.converted / e.elapsedMs) * 1000 : 0;
        const payload = { rate: rate.toFixed(1), eta_h: eta(e, rate), failed: e.failed, more: e.listing ? '+' : '' };
        if (!started) {
          bar.start(e.total, e.done, payload);
          started = true;
        }
        bar.setTotal(e.total);
        bar.update(e.done, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  const interval = options.intervalMs ?? 5000;
  let last = 0;
  let latest: ProgressEvent | undefined;
  const print = (e: ProgressEvent) => process.stderr.write(`${progressLine(label, e)}\n`);
  return {
    update(e) {
      latest = e;
      const now = performance.now();
      if (now - last >= interval) {
        last = now;
        print(e);
      }
    },
    stop() {
      if (latest && latest.done > 0 && performance.now() - last > 0) print(latest);
    },
  };
}
