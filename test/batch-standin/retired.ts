// Properties the service still describes but refuses: task authentication tokens were retired on
// 30 September 2024 (Azure PowerShell's breaking-changes page; the compute node environment variables page).
import { ServiceError } from './validate.js';

const RETIRED = new Set(['authenticationTokenSettings']);

/**
 * Refuses a request body that sets a retired property anywhere (job manager task, task, job schedule's job).
 * The message is the one Azure/azure-sdk-for-python issue 39398 reports from a real account; the issue does not
 * show the error code, so the stand-in uses Batch's code for a property value it will not take.
 */
export function refuseRetiredProperties(value: unknown, path = ''): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => refuseRetiredProperties(v, `${path}[${i}]`));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [k, v] of Object.entries(value)) {
    const here = path ? `${path}.${k}` : k;
    if (RETIRED.has(k) && v !== null && v !== undefined) {
      throw new ServiceError(400, 'InvalidPropertyValue', `Property ${k} is not enabled for current account`, [{ key: 'PropertyName', value: here }]);
    }
    refuseRetiredProperties(v, here);
  }
}
