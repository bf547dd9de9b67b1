import type { Pool } from '@azure/arm-batch';

/** Ubuntu 22.04 LTS from the marketplace and the Batch node agent built for it. */
export const UBUNTU_2204 = {
  imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', version: 'latest' },
  nodeAgentSkuId: 'batch.node.ubuntu 22.04',
} as const;

/** Batch refuses resize timeouts under 5 minutes; 15 is its default. */
export const RESIZE_TIMEOUT = 'PT15M';

export interface PoolCreateSpec {
  vmSize: string;
  dedicatedNodes: number;
  spotNodes: number;
  /** Resource id of the user-assigned managed identity the nodes run as. */
  identityResourceId: string;
  /** Starts the pool under autoscale instead of a fixed size. */
  autoScale?: { formula: string; evaluationInterval: string };
}

/**
 * The body of Pool_Create: marketplace Ubuntu 22.04, one task slot per node (each task converts
 * with every core), the user-assigned identity, and either a fixed size or an autoscale formula.
 */
export function poolCreateBody(spec: PoolCreateSpec): Pool {
  return {
    identity: { type: 'UserAssigned', userAssignedIdentities: { [spec.identityResourceId]: {} } },
    vmSize: spec.vmSize,
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: { ...UBUNTU_2204.imageReference },
        nodeAgentSkuId: UBUNTU_2204.nodeAgentSkuId,
      },
    },
    scaleSettings: spec.autoScale
      ? { autoScale: { formula: spec.autoScale.formula, evaluationInterval: spec.autoScale.evaluationInterval } }
      : { fixedScale: { targetDedicatedNodes: spec.dedicatedNodes, targetLowPriorityNodes: spec.spotNodes, resizeTimeout: RESIZE_TIMEOUT } },
    taskSlotsPerNode: 1,
  };
}

/** The body of Pool_Update that resizes: fixed targets; shrinking lets running tasks finish first. */
export function poolResizeBody(dedicatedNodes: number, spotNodes: number): Pool {
  return {
    scaleSettings: {
      fixedScale: {
        targetDedicatedNodes: dedicatedNodes,
        targetLowPriorityNodes: spotNodes,
        resizeTimeout: RESIZE_TIMEOUT,
        nodeDeallocationOption: 'TaskCompletion',
      },
    },
  };
}

/** The body of Pool_Update that switches the pool to autoscale. */
export function poolAutoscaleBody(formula: string, evaluationInterval: string): Pool {
  return { scaleSettings: { autoScale: { formula, evaluationInterval } } };
}
