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
 * Statements that set `target` to the whole number below `value` (0 <= value < 2 * top), for
 * formulas: floor() and ceil() are not among the documented autoscale functions, but a comparison
 * is documented to give 1 or 0, so adding each power of two that still fits is exact.
 */
function wholePart(target: string, value: string, limit: number): string[] {
  const lines = [`${target} = 0;`];
  for (let p = 2 ** Math.floor(Math.log2(Math.max(1, limit))); p >= 1; p /= 2) {
    lines.push(`${target} = ${target} + ${p} * ((${value} - ${target}) >= ${p});`);
  }
  return lines;
}

/**
 * An autoscale formula driven by pending tasks, written only with the variables, functions and
 * methods the Batch page "Create a formula to automatically scale compute nodes in a Batch pool"
 * lists. Pools run one task slot per node, so the pool wants one node per pending (queued or
 * running) task, between min and max, rounded up to whole nodes and split between spot and
 * dedicated by `spotShare`. Until 70% of the last minutes' samples exist (a new pool has none) it
 * asks for `minNodes` and reads no samples: the guard of the page's "Pending tasks" sample.
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
  const spot = share === 0 ? ['$spotNodes = 0;'] : share === 1 ? ['$spotNodes = $nodes;'] : [`$spot = $nodes * ${share};`, ...wholePart('$spotNodes', '$spot', maxNodes)];
  return [
    `// pixbatch: one node per pending task, ${minNodes}-${maxNodes} nodes, ${Math.round(share * 100)}% spot`,
    `$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * ${minutes});`,
    `$tasks = $samples < 70 ? ${minNodes} : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * ${minutes})));`,
    `$wanted = max(${minNodes}, min(${maxNodes}, $tasks));`,
    '// Whole nodes without floor() or ceil(), which are not documented functions: a comparison is 1 or 0.',
    ...wholePart('$nodes', '$wanted', maxNodes),
    '$nodes = $nodes + ($wanted > $nodes);',
    ...spot,
    '$TargetLowPriorityNodes = $spotNodes;',
    '$TargetDedicatedNodes = $nodes - $spotNodes;',
    '$NodeDeallocationOption = taskcompletion;',
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
