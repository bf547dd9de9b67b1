import { defaultConcurrency } from '../concurrency.js';

/** Extra pool threads beyond the converting ones, so file reads and writes never wait behind a conversion. */
export const IO_THREADS = 2;

/** Reads `--concurrency N` (or `--concurrency=N`) from raw arguments; defaults to one more than the cores. */
export function concurrencyFromArgs(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let value: string | undefined;
    if (a === '--concurrency' || a === '-c') value = args[i + 1];
    else if (a.startsWith('--concurrency=')) value = a.slice('--concurrency='.length);
    if (value !== undefined) {
      const n = Number(value);
      if (Number.isInteger(n) && n >= 1) return n;
    }
  }
  return defaultConcurrency();
}

/** libuv pool size for a run: one thread per image converting at once, plus I/O headroom. */
export function threadPoolSizeFor(args: string[]): number {
  return Math.min(1024, concurrencyFromArgs(args) + IO_THREADS);
}
