// Batch pools through the management plane: create, show, resize, autoscale, delete.
export { createPoolClient } from './client.js';
export type { PoolTarget, PoolClientOptions } from './client.js';
export { poolCreateBody, poolResizeBody, poolAutoscaleBody, UBUNTU_2204, RESIZE_TIMEOUT } from './requests.js';
export type { PoolCreateSpec } from './requests.js';
export { autoscaleFormula, parseEvaluationInterval } from './formula.js';
export type { AutoscaleSpec } from './formula.js';
export { describeResizeError } from './resize-errors.js';
export {
  createPool,
  deletePool,
  describePoolState,
  getPool,
  poolState,
  PoolResizeError,
  resizePool,
  setAutoscale,
  waitForSteady,
} from './operations.js';
export type { PoolState, WaitOptions } from './operations.js';
