import type { ConversionSpec, CostSummary, Store } from '../interfaces.js';
import type { ResolvedConfig } from '../config/schema.js';
import { calibrate, type Calibration, type SampleInput } from './calibrate.js';
import { estimateCost, estimateToCostSummary, type CostEstimate } from './estimate.js';
import { formatEstimate } from './format.js';

export interface JobEstimateInput {
  images: number;
  bytesIn: number;
  spec: ConversionSpec;
  /** Pool size, VM size and prices; defaults to the config's, or 10 × Standard_D2s_v3. */
  config?: Pick<ResolvedConfig, 'batch' | 'prices'>;
  /** Overrides the config's node count (dedicated + spot, or max nodes when both are 0). */
  nodes?: number;
  vmSize?: string;
  shards?: number;
  /** Images to calibrate on: files/buffers, or names to read from a store (a few are enough). */
  samples?: readonly SampleInput[];
  sampleFrom?: { store: Store; names: readonly string[] };
  maxPixels?: number;
  /** Where `.bench/last.json` is looked for. */
  cwd?: string;
}

export interface JobEstimate {
  calibration: Calibration;
  estimate: CostEstimate;
  /** The table plus a line saying where the rate came from, ready to print. */
  text: string;
  /** For `Summary.cost`: priced for spot when the pool is mostly spot, else dedicated. */
  cost: CostSummary;
}

/**
 * Calibrates on a few real images and estimates the job on a pool: what `--dry-run` prints.
 *
 * @example
 * const { text, cost } = await estimateJob({ images: summary.counts.total, bytesIn: summary.bytesIn, spec, config, sampleFrom: { store: source, names: firstNames } });
 * process.stdout.write(`${text}\n`);
 */
export async function estimateJob(input: JobEstimateInput): Promise<JobEstimate> {
  const samples: SampleInput[] = [...(input.samples ?? [])];
  if (input.sampleFrom) {
    for (const name of input.sampleFrom.names.slice(0, 8)) {
      try {
        samples.push({ name, data: await input.sampleFrom.store.read(name) });
      } catch {
        // An unreadable sample only makes the calibration smaller.
      }
    }
  }
  const calibration = await calibrate(samples, input.spec, { maxPixels: input.maxPixels, cwd: input.cwd });
  const batch = input.config?.batch;
  const configured = batch ? batch.dedicatedNodes + batch.spotNodes : 0;
  const nodes = input.nodes ?? (configured > 0 ? configured : batch?.maxNodes || 10);
  const vmSize = input.vmSize ?? batch?.vmSize ?? 'Standard_D2s_v3';
  const estimate = estimateCost({
    images: input.images,
    bytesIn: input.bytesIn,
    estimatedBytesOut: Math.round(input.bytesIn * (calibration.outputRatio ?? 1)),
    perCoreImagesPerSecond: calibration.perCoreImagesPerSecond,
    vmSize,
    nodes,
    ...(input.shards !== undefined ? { shards: input.shards } : {}),
    ...(input.config?.prices ? { prices: input.config.prices } : {}),
  });
  const mostlySpot = batch ? batch.spotNodes >= batch.dedicatedNodes : true;
  const text = `${formatEstimate(estimate)}\n  rate: ${calibration.note}${calibration.outputRatio === undefined ? '; output size assumed equal to input' : ''}`;
  return { calibration, estimate, text, cost: estimateToCostSummary(estimate, mostlySpot ? 'spot' : 'dedicated') };
}
