import type { Pool } from '@azure/arm-batch';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobError, UsageError } from '../errors.js';
import type { PoolTarget } from './client.js';
import { poolAutoscaleBody, poolCreateBody, poolResizeBody, type PoolCreateSpec } from './requests.js';
import { describeResizeError } from './resize-errors.js';

/** A pool as pixbatch reports it. */
export interface PoolState {
  id: string;
  allocationState: string;
  provisioningState?: string;
  vmSize?: string;
  currentDedicated: number;
  currentSpot: number;
  targetDedicated?: number;
  targetSpot?: number;
  autoScale?: { formula: string; evaluationInterval?: string };
  /** One line per error of the last resize. */
  resizeErrors: string[];
}

/** The pool could not reach its size: each line is one resize error from the service. */
export class PoolResizeError extends JobError {
  constructor(readonly poolId: string, readonly lines: string[], readonly state: PoolState) {
    super(`pool ${poolId} could not be resized:\n  ${lines.join('\n  ')}`, 'PoolResizeError');
  }
}

/** Summarises the service's view of a pool. */
export function poolState(pool: Pool, id = pool.name ?? ''): PoolState {
  const status = pool.resizeOperationStatus;
  const fixed = pool.scaleSettings?.fixedScale;
  const auto = pool.scaleSettings?.autoScale;
  return {
    id,
    allocationState: pool.allocationState ?? 'Unknown',
    ...(pool.provisioningState ? { provisioningState: pool.provisioningState } : {}),
    ...(pool.vmSize ? { vmSize: pool.vmSize } : {}),
    currentDedicated: pool.currentDedicatedNodes ?? 0,
    currentSpot: pool.currentLowPriorityNodes ?? 0,
    targetDedicated: status?.targetDedicatedNodes ?? fixed?.targetDedicatedNodes,
    targetSpot: status?.targetLowPriorityNodes ?? fixed?.targetLowPriorityNodes,
    ...(auto ? { autoScale: { formula: auto.formula, ...(auto.evaluationInterval ? { evaluationInterval: auto.evaluationInterval } : {}) } } : {}),
    resizeErrors: (status?.errors ?? []).map(describeResizeError),
  };
}

/** "resizing: dedicated 1/2, spot 0/4". */
export function describePoolState(s: PoolState): string {
  const part = (cur: number, target?: number) => (target === undefined ? `${cur}` : `${cur}/${target}`);
  return `${s.allocationState.toLowerCase()}: dedicated ${part(s.currentDedicated, s.targetDedicated)}, spot ${part(s.currentSpot, s.targetSpot)}`;
}

// Giving a resource a user-assigned identity needs the identity's assign action, which the Managed
// Identity Operator role grants ("Managed identities for Azure resources frequently asked
// questions": which Azure RBAC permissions are required to use a managed identity on a resource).
const ASSIGN_IDENTITY_HINT =
  'and, to give the pool its managed identity, Managed Identity Operator (Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action) on that identity';

function serviceError(action: string, poolId: string, err: unknown, identityResourceId?: string): Error {
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e?.statusCode === 401 || e?.statusCode === 403) {
    const identity = identityResourceId ? ` ${ASSIGN_IDENTITY_HINT} (${identityResourceId})` : '';
    return new JobError(
      `${action} pool ${poolId}: not authorised (${e.code ?? e.statusCode}); sign in with "az login" and make sure you hold Contributor on the Batch account${identity}`,
      e.code,
      { cause: err },
    );
  }
  if (e?.statusCode === 400) return new UsageError(`${action} pool ${poolId}: the service rejected the request: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  if (typeof e?.statusCode === 'number') return new JobError(`${action} pool ${poolId}: ${e.code ? `${e.code}: ` : ''}${e.message} (HTTP ${e.statusCode})`, e.code, { cause: err });
  return err instanceof Error ? err : new JobError(String(err));
}

/** The pool, or undefined when it does not exist. */
export async function getPool(target: PoolTarget, poolId: string, options: { abortSignal?: AbortSignal } = {}): Promise<Pool | undefined> {
  try {
    return await target.client.poolOperations.get(target.resourceGroup, target.accountName, poolId, options);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw serviceError('show', poolId, err);
  }
}

async function mustGet(target: PoolTarget, poolId: string, signal?: AbortSignal): Promise<Pool> {
  const pool = await getPool(target, poolId, { abortSignal: signal });
  if (!pool) throw new UsageError(`pool ${poolId} does not exist in Batch account ${target.accountName}; create it with: pixbatch batch pool create`);
  return pool;
}

export interface WaitOptions {
  /** Between polls; default 10 s. */
  pollIntervalMs?: number;
  /** Give up after this long; default 30 min. */
  timeoutMs?: number;
  /** Called after each poll. */
  onProgress?: (state: PoolState, elapsedMs: number) => void;
  signal?: AbortSignal;
}

/**
 * Polls until the pool is steady. Resize errors (quota reached, spot quota 0, allocation failure)
 * end the wait at once with a PoolResizeError instead of running out the resize timeout.
 */
export async function waitForSteady(target: PoolTarget, poolId: string, options: WaitOptions = {}): Promise<PoolState> {
  const pollMs = options.pollIntervalMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const started = Date.now();
  for (;;) {
    const state = poolState(await mustGet(target, poolId, options.signal), poolId);
    const elapsed = Date.now() - started;
    options.onProgress?.(state, elapsed);
    if (state.resizeErrors.length) throw new PoolResizeError(poolId, state.resizeErrors, state);
    if (state.allocationState === 'Steady') return state;
    if (elapsed >= timeoutMs) {
      throw new JobError(`pool ${poolId} is still ${describePoolState(state)} after ${Math.round(elapsed / 60_000)} min; check it with: pixbatch batch pool show`);
    }
    await sleep(pollMs, undefined, { signal: options.signal });
  }
}

/**
 * Creates the pool (refusing to replace an existing one) and returns its first state. Creating a
 * pool with a user-assigned identity needs Contributor on the Batch account and Managed Identity
 * Operator on the identity.
 *
 * @example
 * await createPool(target, 'pixbatch', { vmSize: 'Standard_D2s_v3', dedicatedNodes: 0, spotNodes: 4, identityResourceId });
 * await waitForSteady(target, 'pixbatch', { onProgress: (s) => console.log(describePoolState(s)) });
 */
export async function createPool(target: PoolTarget, poolId: string, spec: PoolCreateSpec, options: { abortSignal?: AbortSignal } = {}): Promise<PoolState> {
  const exists = () =>
    new UsageError(`pool ${poolId} already exists; change it with "pixbatch batch pool resize" or "autoscale", or delete it first`);
  // Pool_Create documents If-None-Match: '*' ("allow a new pool to be created, but to prevent
  // updating an existing pool") but not the status of that refusal (its responses are 200 and a
  // default CloudError). So ask first; the header still guards against a pool made in between.
  if (await getPool(target, poolId, options)) throw exists();
  try {
    const pool = await target.client.poolOperations.create(target.resourceGroup, target.accountName, poolId, poolCreateBody(spec), {
      ifNoneMatch: '*',
      abortSignal: options.abortSignal,
    });
    return poolState(pool, poolId);
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if ((status === 409 || status === 412) && (await getPool(target, poolId, options))) throw exists();
    throw serviceError('create', poolId, err, spec.identityResourceId);
  }
}

/** Sets fixed dedicated and spot targets, leaving autoscale first when it is on. */
export async function resizePool(target: PoolTarget, poolId: string, dedicatedNodes: number, spotNodes: number, options: { abortSignal?: AbortSignal } = {}): Promise<PoolState> {
  const current = await mustGet(target, poolId, options.abortSignal);
  try {
    if (current.scaleSettings?.autoScale) {
      await target.client.poolOperations.disableAutoScale(target.resourceGroup, target.accountName, poolId, options);
    }
    const pool = await target.client.poolOperations.update(target.resourceGroup, target.accountName, poolId, poolResizeBody(dedicatedNodes, spotNodes), options);
    return poolState(pool, poolId);
  } catch (err) {
    throw serviceError('resize', poolId, err);
  }
}

/** Switches the pool to an autoscale formula. */
export async function setAutoscale(target: PoolTarget, poolId: string, formula: string, evaluationInterval: string, options: { abortSignal?: AbortSignal } = {}): Promise<PoolState> {
  try {
    const pool = await target.client.poolOperations.update(target.resourceGroup, target.accountName, poolId, poolAutoscaleBody(formula, evaluationInterval), options);
    return poolState(pool, poolId);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      throw new UsageError(`pool ${poolId} does not exist in Batch account ${target.accountName}; create it with: pixbatch batch pool create`);
    }
    throw serviceError('autoscale', poolId, err);
  }
}

/** Deletes the pool and waits for the long-running operation to finish. Returns false when there was no such pool. */
export async function deletePool(target: PoolTarget, poolId: string, options: { pollIntervalMs?: number; abortSignal?: AbortSignal } = {}): Promise<boolean> {
  // Resource Manager answers a delete of a missing pool with 204, so ask first to say which it was.
  if (!(await getPool(target, poolId, options))) return false;
  try {
    await target.client.poolOperations.beginDeleteAndWait(target.resourceGroup, target.accountName, poolId, {
      updateIntervalInMs: options.pollIntervalMs ?? 10_000,
      abortSignal: options.abortSignal,
    });
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw serviceError('delete', poolId, err);
  }
}
