import { UsageError, invalidOption } from '../errors.js';

export interface AutoscaleSpec {
  minNodes: number;
  maxNodes: number;
  /** Share of the nodes that are spot (low-priority), 0-1. */
  spotShare: number;
  /** How far back pending tasks are averaged, minutes (default 5). */
  sampleMinutes?: number;
}

/**
 * An autoscale formula driven by pending tasks. Pools run one task slot per node, so the pool
 * wants one node per pending (queued or running) task, between min and max, split between spot
 * and dedicated by `spotShare`. When samples are sparse (a new pool) it trusts the latest sample.
 * Nodes are released only when their task completes, so shrinking never throws work away.
 *
 * @example
 * autoscaleFormula({ minNodes: 0, maxNodes: 20, spotShare: 0.75 });
 */
export function autoscaleFormula(spec: AutoscaleSpec): string {
  const { minNodes, maxNodes, spotShare } = spec;
  if (!Number.isInteger(minNodes) || minNodes < 0) throw invalidOption('min-nodes', 'integer >= 0', minNodes);
  if (!Number.isInteger(maxNodes) || maxNodes < 1) throw invalidOption('max-nodes', 'integer >= 1', maxNodes);
  if (minNodes > maxNodes) throw new UsageError(`Expected --min-nodes (${minNodes}) to be at most --max-nodes (${maxNodes})`);
  if (!(spotShare >= 0 && spotShare <= 1)) throw invalidOption('spot-share', 'number between 0 and 1', spotShare);
  const minutes = spec.sampleMinutes ?? 5;
  const share = Number(spotShare.toFixed(4));
  return [
    `// pixbatch: one node per pending task, ${minNodes}-${maxNodes} nodes, ${Math.round(share * 100)}% spot`,
    `$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * ${minutes});`,
    `$tasks = $samples < 70 ? max(0, $PendingTasks.GetSample(1)) : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * ${minutes})));`,
    `$nodes = max(${minNodes}, min(${maxNodes}, $tasks));`,
    `$spotNodes = floor($nodes * ${share});`,
    `$TargetLowPriorityNodes = $spotNodes;`,
    `$TargetDedicatedNodes = $nodes - $spotNodes;`,
    `$NodeDeallocationOption = taskcompletion;`,
  ].join('\n');
}

/**
 * Parses an evaluation interval: ISO 8601 (`PT5M`, `PT1H30M`) or shorthand (`5m`, `90s`, `1h`, bare minutes).
 * Batch accepts 5 minutes to 168 hours.
 */
export function parseEvaluationInterval(value: string | number | undefined): string {
  if (value === undefined || value === '') return 'PT5M';
  const text = String(value).trim();
  let seconds: number | undefined;
  const iso = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/i.exec(text);
  const short = /^(\d+)\s*([smh]?)$/i.exec(text);
  if (iso && (iso[1] || iso[2] || iso[3])) {
    seconds = Number(iso[1] ?? 0) * 3600 + Number(iso[2] ?? 0) * 60 + Number(iso[3] ?? 0);
  } else if (short) {
    const unit = (short[2] || 'm').toLowerCase();
    seconds = Number(short[1]) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  }
  if (seconds === undefined || seconds < 300 || seconds > 168 * 3600) {
    throw invalidOption('interval', 'duration between 5 minutes and 168 hours (PT5M, 10m, 1h)', value);
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `PT${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
}
