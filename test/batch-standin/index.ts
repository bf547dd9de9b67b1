// The loopback stand-in for the Azure Batch data-plane service. See ./types.ts for what it offers.
import type { BatchStandIn, StandInOptions } from './types.js';

export type { BatchStandIn, StandInOptions, RecordedCall, FailTaskSpec } from './types.js';

export async function startBatchStandIn(_options: StandInOptions = {}): Promise<BatchStandIn> {
  throw new Error('not implemented yet');
}
