import type { ResizeError } from '@azure/arm-batch';

/** What a user can do about each resize error the Batch service reports. */
const HINTS: Record<string, string> = {
  AccountCoreQuotaReached: 'the Batch account has no dedicated cores left for this VM size; request a quota increase or use spot nodes',
  AccountLowPriorityCoreQuotaReached:
    'the Batch account has no spot cores left (new accounts often start at 0); request spot quota or use dedicated nodes',
  AccountSpotCoreQuotaReached:
    'the Batch account has no spot cores left (new accounts often start at 0); request spot quota or use dedicated nodes',
  AllocationFailed: 'Azure could not allocate these VMs right now; try another VM size or region, or retry later',
  AllocationTimedOut: 'the nodes were not allocated within the resize timeout; try fewer nodes or another VM size',
  FailedIdentityOperation: 'the pool could not use the managed identity; check identity.resourceId and that it exists',
  IncompatibleVMSize: 'this VM size cannot run this image; pick another VM size',
};

/** One line per resize error: code, the service's message, and what to do. */
export function describeResizeError(error: ResizeError): string {
  const detail = (error.details ?? [])
    .map((d) => (d.message ? `${d.code}: ${d.message}` : d.code))
    .filter(Boolean)
    .join('; ');
  const hint = HINTS[error.code];
  const message = (error.message ?? '').replace(/\s+/g, ' ').trim();
  return [`${error.code}: ${message}${detail ? ` (${detail})` : ''}`, hint].filter(Boolean).join(' — ');
}
