// Asserting how the Batch service (or its stand-in) refused a call.
import assert from 'node:assert/strict';
import { BatchError } from '../../src/batch/client.js';

/** Awaits `p`, which must fail with a BatchError of this status and code; returns the error. */
export async function rejectsWith(p: Promise<unknown>, status: number, code: string): Promise<BatchError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BatchError, `expected a BatchError, got ${String(err)}`);
    assert.equal(err.statusCode, status, err.message);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${status} ${code}`);
}
