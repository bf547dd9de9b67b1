// Checks request and response bodies against the definitions in ./batch-service.ts and turns the
// first problem into the service's error, with the codes of the Batch REST reference page "Batch
// status and error codes" (learn.microsoft.com/rest/api/batchservice/batch-status-and-error-codes):
//   UnsupportedProperty (400)     "One of the properties specified in the request body is not supported."
//   MissingRequiredProperty (400) "A required property was not specified in the request body."
//   InvalidPropertyValue (400)    "The value provided for one of the properties in the request body is invalid."
import type { z } from 'zod';
import { ServiceError } from '../validate.js';
import * as spec from './batch-service.js';
import { issuePath as pathText } from '../../harness/schema-issues.js';

export { responseDrift } from '../../harness/schema-issues.js';


function at(value: unknown, path: PropertyKey[]): unknown {
  let v = value;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** The JSON of the service treats `null` as absent; so does this check. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropNulls(v)]),
  );
}

/** The service's error for the first issue zod found. */
function toServiceError(issue: z.core.$ZodIssue, body: unknown): ServiceError {
  if (issue.code === 'unrecognized_keys') {
    const name = pathText([...issue.path, issue.keys[0]!]);
    return new ServiceError(400, 'UnsupportedProperty', 'One of the properties specified in the request body is not supported.', [
      { key: 'PropertyName', value: name },
      { key: 'Reason', value: `${name} is not a property of this request` },
    ]);
  }
  const value = at(body, issue.path);
  const name = pathText(issue.path) || 'body';
  if (value === undefined) {
    return new ServiceError(400, 'MissingRequiredProperty', 'A required property was not specified in the request body.', [
      { key: 'PropertyName', value: name },
    ]);
  }
  // Over maxItems: the collection itself is the invalid value.
  return new ServiceError(400, 'InvalidPropertyValue', 'The value provided for one of the properties in the request body is invalid.', [
    { key: 'PropertyName', value: name },
    { key: 'PropertyValue', value: typeof value === 'string' ? value : Array.isArray(value) ? String(value.length) : JSON.stringify(value) },
    { key: 'Reason', value: issue.message },
  ]);
}

/** Checks a request body; returns it with enum values in the definition's spelling, or throws the service's error. */
export function checkRequest<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const input = dropNulls(body);
  const r = schema.safeParse(input);
  if (!r.success) throw toServiceError(r.error.issues[0]!, input);
  return r.data;
}

/** Request definitions by the stand-in's operation name. */
export const REQUESTS: Record<string, z.ZodType> = {
  addjob: spec.JobAddParameter,
  patchjob: spec.JobPatchParameter,
  terminatejob: spec.JobTerminateParameter,
  addtaskcollection: spec.TaskAddCollectionParameter,
  addjobschedule: spec.JobScheduleAddParameter,
};

/** Response definitions by the stand-in's operation name (error answers are checked against BatchError). */
export const RESPONSES: Record<string, z.ZodType> = {
  getpool: spec.CloudPool,
  getjob: spec.CloudJob,
  listjobs: spec.CloudJobListResult,
  listjobsfromschedule: spec.CloudJobListResult,
  gettask: spec.CloudTask,
  listtasks: spec.CloudTaskListResult,
  gettaskcounts: spec.TaskCountsResult,
  addtaskcollection: spec.TaskAddCollectionResult,
  getjobschedule: spec.CloudJobSchedule,
  listjobschedules: spec.CloudJobScheduleListResult,
};
