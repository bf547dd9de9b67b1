// What the `batch pool` commands do once one runs. pool.ts registers them and loads this file only
// then, so the config schema (zod), prices and pool operations stay out of every other command's start-up.
import { createInterface } from 'node:readline/promises';
import { loadConfig, requireConfig, type ConfigFlags } from '../config/load.js';
import type { PriceTable, ResolvedConfig } from '../config/schema.js';
import { costOfNodeTime } from '../cost/estimate.js';
import { formatMoney } from '../cost/format.js';
import { priceLabel } from '../cost/prices.js';
import { batchRoleNote } from '../batch/node-identity.js';
import { invalidOption, UsageError } from '../errors.js';
// The Azure management SDK loads only when a command reaches the pool, not for `--print` or a refused delete.
import type { PoolTarget } from '../pool/client.js';
import { autoscaleFormula, parseEvaluationInterval } from '../pool/formula.js';
import {
  createPool,
  deletePool,
  describePoolState,
  getPool,
  poolState,
  resizePool,
  setAutoscale,
  waitForSteady,
  type PoolState,
} from '../pool/operations.js';

export interface CommonOpts extends ConfigFlags {
  json?: boolean;
  wait?: boolean;
  pollInterval?: string;
  timeout?: string;
}

function count(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) throw invalidOption(name, 'integer >= 0', value);
  return Number(text);
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw invalidOption(name, 'number > 0', value);
  return n;
}

async function connect(opts: CommonOpts): Promise<{ config: ResolvedConfig; target: PoolTarget; poolId: string }> {
  const config = await loadConfig({ flags: opts });
  const target = (await import('../pool/client.js')).createPoolClient(config);
  return { config, target, poolId: config.batch.poolId };
}

/** Waits for a steady pool, printing a line each time its state changes. */
async function waitAndReport(target: PoolTarget, poolId: string, opts: CommonOpts): Promise<PoolState> {
  let last = '';
  const state = await waitForSteady(target, poolId, {
    pollIntervalMs: positive('poll-interval', opts.pollInterval, 10) * 1000,
    timeoutMs: positive('timeout', opts.timeout, 30) * 60_000,
    onProgress: (s, elapsed) => {
      const line = describePoolState(s);
      if (line !== last) process.stderr.write(`pool ${poolId} ${line} (${Math.round(elapsed / 1000)} s)\n`);
      last = line;
    },
  });
  return state;
}

/** "about $0.23 per hour while these nodes run (list prices as of ...)", when the size has a price. */
function hourlyCost(state: PoolState, prices: PriceTable): string | undefined {
  if (!state.vmSize || state.currentDedicated + state.currentSpot === 0) return undefined;
  const perHour = (costOfNodeTime(3600 * state.currentDedicated, state.vmSize, 'dedicated', prices) ?? NaN) + (costOfNodeTime(3600 * state.currentSpot, state.vmSize, 'spot', prices) ?? NaN);
  if (Number.isNaN(perHour)) return undefined;
  return `about ${formatMoney(perHour, prices.currency)} per hour while these nodes run (${priceLabel(prices)})`;
}

function print(state: PoolState, opts: CommonOpts, headline: string, prices?: PriceTable): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    return;
  }
  const lines = [headline, `  ${describePoolState(state)}${state.vmSize ? ` on ${state.vmSize}` : ''}`];
  const cost = prices && hourlyCost(state, prices);
  if (cost) lines.push(`  ${cost}`);
  if (state.autoScale) lines.push(`  autoscale every ${state.autoScale.evaluationInterval ?? 'PT15M'}:`, ...state.autoScale.formula.split('\n').map((l) => `    ${l}`));
  for (const e of state.resizeErrors) lines.push(`  resize error ${e}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function confirmDelete(poolId: string, account: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new UsageError(`refusing to delete pool ${poolId} without confirmation: no terminal to ask on, pass --yes`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Delete pool ${poolId} of Batch account ${account}? Running tasks stop. Type the pool id to confirm: `);
    return answer.trim() === poolId;
  } finally {
    rl.close();
  }
}

/** `batch pool create`. */
export async function createPoolCommand(opts: CommonOpts & { autoscale?: boolean; interval?: string }): Promise<void> {
  const { config, target, poolId } = await connect(opts);
  requireConfig(config, ['identity.resourceId']);
  const autoScale = opts.autoscale
    ? {
        formula: autoscaleFormula({ minNodes: config.batch.minNodes, maxNodes: config.batch.maxNodes, spotShare: config.batch.spotShare }),
        evaluationInterval: parseEvaluationInterval(opts.interval),
      }
    : undefined;
  const created = await createPool(target, poolId, {
    vmSize: config.batch.vmSize,
    dedicatedNodes: config.batch.dedicatedNodes,
    spotNodes: config.batch.spotNodes,
    identityResourceId: config.identity.resourceId!,
    ...(autoScale ? { autoScale } : {}),
  });
  process.stderr.write(
    autoScale
      ? `pool ${poolId} created: ${config.batch.vmSize}, autoscaled between ${config.batch.minNodes} and ${config.batch.maxNodes} nodes\n`
      : `pool ${poolId} created: ${config.batch.vmSize}, ${config.batch.dedicatedNodes} dedicated + ${config.batch.spotNodes} spot nodes\n`,
  );
  // The identity is the nodes' only way into Batch for scheduled runs: say which role it needs there.
  const batchAccountId = `/subscriptions/${config.azure.subscriptionId}/resourceGroups/${target.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${target.accountName}`;
  process.stderr.write(`${batchRoleNote({ identityResourceId: config.identity.resourceId!, batchAccountId })}\n`);
  const state = opts.wait === false ? created : await waitAndReport(target, poolId, opts);
  print(state, opts, opts.wait === false ? `pool ${poolId} accepted` : `pool ${poolId} is ready`, config.prices);
}

/** `batch pool show`. */
export async function showPoolCommand(opts: CommonOpts): Promise<void> {
  const { config, target, poolId } = await connect(opts);
  const found = await getPool(target, poolId);
  if (!found) throw new UsageError(`pool ${poolId} does not exist in Batch account ${target.accountName}; create it with: pixbatch batch pool create`);
  print(poolState(found, poolId), opts, `pool ${poolId}`, config.prices);
}

/** `batch pool resize`. */
export async function resizePoolCommand(opts: CommonOpts): Promise<void> {
  const dedicated = count('dedicated', opts.dedicated);
  const spot = count('spot', opts.spot);
  if (dedicated === undefined && spot === undefined) throw new UsageError('Expected --dedicated N and/or --spot N for resize');
  // Not passed to the config: a missing count means "keep", not "use the configured default".
  const { config, target, poolId } = await connect({ ...opts, dedicated: undefined, spot: undefined });
  const current = await getPool(target, poolId);
  if (!current) throw new UsageError(`pool ${poolId} does not exist in Batch account ${target.accountName}; create it with: pixbatch batch pool create`);
  const now = poolState(current, poolId);
  const d = dedicated ?? now.targetDedicated ?? now.currentDedicated;
  const s = spot ?? now.targetSpot ?? now.currentSpot;
  const accepted = await resizePool(target, poolId, d, s);
  process.stderr.write(`pool ${poolId} resizing to ${d} dedicated + ${s} spot nodes\n`);
  const state = opts.wait === false ? accepted : await waitAndReport(target, poolId, opts);
  print(state, opts, `pool ${poolId} resized`, config.prices);
}

/** `batch pool autoscale`. */
export async function autoscalePoolCommand(opts: CommonOpts & { interval?: string; formula?: string; print?: boolean }): Promise<void> {
  const config = await loadConfig({ flags: opts });
  const interval = parseEvaluationInterval(opts.interval);
  const formula =
    opts.formula?.trim() ||
    autoscaleFormula({ minNodes: config.batch.minNodes, maxNodes: config.batch.maxNodes, spotShare: config.batch.spotShare });
  if (!opts.json) process.stdout.write(`autoscale formula (evaluated every ${interval}):\n${formula}\n`);
  if (opts.print) return;
  const target = (await import('../pool/client.js')).createPoolClient(config);
  const state = await setAutoscale(target, config.batch.poolId, formula, interval);
  print(state, opts, `pool ${config.batch.poolId} now autoscales`);
}

/** `batch pool delete`. */
export async function deletePoolCommand(opts: CommonOpts & { yes?: boolean }): Promise<void> {
  const config = await loadConfig({ flags: opts });
  requireConfig(config, ['azure.subscriptionId', 'azure.resourceGroup', 'batch.accountName']);
  const poolId = config.batch.poolId;
  if (!opts.yes && !(await confirmDelete(poolId, config.batch.accountName!))) {
    throw new UsageError(`pool ${poolId} not deleted: the answer did not match the pool id`);
  }
  const target = (await import('../pool/client.js')).createPoolClient(config);
  if (opts.wait === false) {
    await target.client.poolOperations.beginDelete(target.resourceGroup, target.accountName, poolId);
    process.stdout.write(`pool ${poolId} is being deleted\n`);
    return;
  }
  const existed = await deletePool(target, poolId, { pollIntervalMs: positive('poll-interval', opts.pollInterval, 10) * 1000 });
  process.stdout.write(existed ? `pool ${poolId} deleted\n` : `pool ${poolId} did not exist\n`);
}
