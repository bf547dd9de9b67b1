import type { CostSummary } from '../interfaces.js';
import { UsageError, invalidOption } from '../errors.js';
import { coresFromVmSize, DEFAULT_PRICES, findVmPrice, priceLabel, type PriceTableData } from './prices.js';

/** Boot, node agent start and job preparation (bundle download): billed, converts nothing. */
export const DEFAULT_NODE_STARTUP_SECONDS = 240;
/** One list call returns up to 5,000 blobs. */
const LIST_PAGE = 5000;
const GB = 2 ** 30;

export interface CostInput {
  images: number;
  bytesIn: number;
  /** Output bytes expected (sample ratio × bytesIn, or bytesIn when unknown). */
  estimatedBytesOut: number;
  /** Measured by `calibrate`: images converted per second per core. */
  perCoreImagesPerSecond: number;
  vmSize: string;
  nodes: number;
  /** Defaults to the price table's cores for the size, else the number in its name. */
  coresPerNode?: number;
  /** Batch tasks (shards); each writes a shard and a result file. Default: one per node. */
  shards?: number;
  nodeStartupSeconds?: number;
  prices?: PriceTableData;
}

export interface CostEstimate {
  currency: string;
  /** "list prices as of …, edit in config". */
  priceLabel: string;
  images: number;
  bytesIn: number;
  bytesOut: number;
  vmSize: string;
  nodes: number;
  coresPerNode: number;
  perCoreImagesPerSecond: number;
  /** From the first node starting to the last image, assuming work spreads evenly. */
  wallSeconds: number;
  nodeStartupSeconds: number;
  /** Billed node time, all nodes together. */
  nodeSeconds: number;
  /** Undefined when the VM size is not in the price table. */
  compute: { dedicated?: number; spot?: number };
  transactions: { reads: number; writes: number; cost: number };
  storage: { bytesOut: number; perMonth: number };
  /** Compute plus transactions for this job; output storage is monthly and separate. */
  total: { dedicated?: number; spot?: number };
  notes: string[];
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidOption(name, 'number >= 0', value);
  return value;
}

function positiveInt(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalidOption(name, 'integer >= 1', value);
  return value;
}

/**
 * Estimates node time and cost of converting `images` on `nodes` × `vmSize`, for dedicated and for
 * spot nodes, plus storage transactions and the monthly cost of keeping the outputs (at scale the
 * outputs can cost more per month than the conversion did once).
 *
 * @example
 * const e = estimateCost({ images: 5000, bytesIn: 2e9, estimatedBytesOut: 4e9, perCoreImagesPerSecond: 2.5, vmSize: 'Standard_D2s_v3', nodes: 10 });
 * console.log(formatEstimate(e));
 */
export function estimateCost(input: CostInput): CostEstimate {
  const prices = input.prices ?? DEFAULT_PRICES;
  const images = nonNegative('images', input.images);
  const nodes = positiveInt('nodes', input.nodes);
  const rate = nonNegative('per-core rate', input.perCoreImagesPerSecond);
  if (rate === 0 && images > 0) throw invalidOption('per-core rate', 'number > 0', rate);
  const vmPrice = findVmPrice(prices, input.vmSize);
  const cores = input.coresPerNode ?? vmPrice?.cores ?? coresFromVmSize(input.vmSize);
  if (!cores) throw new UsageError(`cannot tell how many cores ${input.vmSize} has; add it under prices.vm in pixbatch.config.json`);
  positiveInt('cores per node', cores);
  const startup = nonNegative('node startup seconds', input.nodeStartupSeconds ?? DEFAULT_NODE_STARTUP_SECONDS);
  const shards = input.shards ?? nodes;
  const bytesOut = nonNegative('estimated bytes out', input.estimatedBytesOut);

  const coreSeconds = images === 0 ? 0 : images / rate;
  const convertSeconds = coreSeconds / (nodes * cores);
  const wallSeconds = convertSeconds + startup;
  const nodeSeconds = nodes * wallSeconds;
  const notes: string[] = [];

  const compute: CostEstimate['compute'] = {};
  if (vmPrice) {
    compute.dedicated = (nodeSeconds / 3600) * vmPrice.dedicated;
    compute.spot = (nodeSeconds / 3600) * vmPrice.spot;
  } else {
    notes.push(`no price for ${input.vmSize} in the price table; add it under prices.vm in pixbatch.config.json`);
  }

  // Reads: every source image, every shard file, the bundle once per node.
  const reads = images + shards + nodes;
  // Writes: every output, list calls over source and destination (billed as writes), shard and result files, job files.
  const lists = 2 * Math.max(1, Math.ceil(images / LIST_PAGE));
  const writes = images + lists + 2 * shards + 4;
  const transactionCost = (reads / 10_000) * prices.storage.readPer10k + (writes / 10_000) * prices.storage.writePer10k;
  const perMonth = (bytesOut / GB) * prices.storage.hotPerGbMonth;

  const total: CostEstimate['total'] = {};
  if (compute.dedicated !== undefined) total.dedicated = compute.dedicated + transactionCost;
  if (compute.spot !== undefined) total.spot = compute.spot + transactionCost;
  if (startup > 0) notes.push(`includes ${Math.round(startup / 60)} min per node to start and prepare`);
  if (perMonth > (total.spot ?? Infinity)) notes.push('keeping the outputs costs more per month than converting them on spot nodes');

  return {
    currency: prices.currency,
    priceLabel: priceLabel(prices),
    images,
    bytesIn: input.bytesIn,
    bytesOut,
    vmSize: input.vmSize,
    nodes,
    coresPerNode: cores,
    perCoreImagesPerSecond: rate,
    wallSeconds,
    nodeStartupSeconds: startup,
    nodeSeconds,
    compute,
    transactions: { reads, writes, cost: transactionCost },
    storage: { bytesOut, perMonth },
    total,
    notes,
  };
}

/**
 * What node time cost, for the report after a Batch job. Undefined when the size has no price.
 *
 * @example
 * costOfNodeTime(3600, 'Standard_D2s_v3', 'spot'); // one spot node-hour
 */
export function costOfNodeTime(seconds: number, vmSize: string, priority: 'dedicated' | 'spot', prices: PriceTableData = DEFAULT_PRICES): number | undefined {
  nonNegative('node seconds', seconds);
  const price = findVmPrice(prices, vmSize);
  if (!price) return undefined;
  return (seconds / 3600) * (priority === 'spot' ? price.spot : price.dedicated);
}

/**
 * The `cost` of a Summary after a job: node time split by priority, priced.
 *
 * @example
 * summary.cost = nodeTimeCostSummary({ dedicatedSeconds: 0, spotSeconds: 5400 }, 'Standard_D2s_v3');
 */
export function nodeTimeCostSummary(
  used: { dedicatedSeconds: number; spotSeconds: number },
  vmSize: string,
  prices: PriceTableData = DEFAULT_PRICES,
): CostSummary {
  const dedicated = costOfNodeTime(used.dedicatedSeconds, vmSize, 'dedicated', prices);
  const spot = costOfNodeTime(used.spotSeconds, vmSize, 'spot', prices);
  const nodeSeconds = used.dedicatedSeconds + used.spotSeconds;
  const notes = [priceLabel(prices)];
  if (dedicated === undefined) notes.push(`no price for ${vmSize} in the price table`);
  return {
    currency: prices.currency,
    nodeSeconds,
    ...(dedicated !== undefined && spot !== undefined ? { compute: dedicated + spot, total: dedicated + spot } : {}),
    notes,
  };
}

/** An estimate as the `cost` of a dry-run Summary, priced for one node priority. */
export function estimateToCostSummary(estimate: CostEstimate, priority: 'dedicated' | 'spot'): CostSummary {
  const compute = estimate.compute[priority];
  return {
    currency: estimate.currency,
    nodeSeconds: estimate.nodeSeconds,
    ...(compute !== undefined ? { compute } : {}),
    transactions: estimate.transactions.cost,
    storagePerMonth: estimate.storage.perMonth,
    ...(estimate.total[priority] !== undefined ? { total: estimate.total[priority] } : {}),
    notes: [`estimate for ${estimate.nodes} × ${estimate.vmSize} (${priority})`, estimate.priceLabel, ...estimate.notes],
  };
}
