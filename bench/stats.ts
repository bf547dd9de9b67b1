// Small statistics for comparing two contenders of one benchmark run on a noisy machine: pair the
// runs that happened next to each other, and say how sure the median of those pairs is.
import { Random } from '../src/generate/random.js';

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Estimate {
  /** The median of the values. */
  median: number;
  /** A 95% interval for it: the 2.5th and 97.5th percentiles of the medians of 4,000 resamples (percentile bootstrap). */
  low: number;
  high: number;
  n: number;
}

/**
 * The median of `values` with a 95% bootstrap interval. With few values the interval is wide, as it
 * should be: it is the honest answer to "could this be noise?".
 */
export function medianWithInterval(values: number[], resamples = 4000): Estimate {
  if (values.length === 0) return { median: NaN, low: NaN, high: NaN, n: 0 };
  // Seeded (the generator `pixbatch generate` uses), so the same measurements always give the same interval.
  const random = new Random(1);
  const medians: number[] = [];
  const pick = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) pick[i] = values[Math.floor(random.next() * values.length)]!;
    medians.push(median(pick));
  }
  medians.sort((a, b) => a - b);
  return { median: median(values), low: medians[Math.floor(resamples * 0.025)]!, high: medians[Math.ceil(resamples * 0.975) - 1]!, n: values.length };
}
