// Request-body checks the Batch service makes, with the service's error codes: the definitions of
// ./spec/batch-service.ts, and the rules about resource files the definitions state in prose.

import { ZodType } from 'zod';
import { checkRequest } from './spec/check.js';

export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly values: Array<{ key: string; value: string }> = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// Request bodies are checked against the OpenAPI definitions in ./spec/batch-service.ts.
export {
  JobAddParameter as JOB_ADD,
  JobPatchParameter as JOB_PATCH,
  JobTerminateParameter as JOB_TERMINATE,
  TaskAddCollectionParameter as TASK_COLLECTION,
  JobScheduleAddParameter as JOB_SCHEDULE_ADD,
  durationMs,
} from './spec/batch-service.js';


function invalid(path: string, value: unknown, reason: string): ServiceError {
  return new ServiceError(400, 'InvalidPropertyValue', `The value provided for one of the properties in the request body is invalid.`, [
    { key: 'PropertyName', value: path },
    { key: 'PropertyValue', value: typeof value === 'string' ? value : JSON.stringify(value) },
    { key: 'Reason', value: reason },
  ]);
}

/** Checks a request body against its definition; returns it with enum values in the definition's spelling. */
export function validate(schema: ZodType, value: unknown): unknown {
  return checkRequest(schema, value);
}

/** Resource files name exactly one source; an `httpUrl` also needs a `filePath`. */
export function checkResourceFiles(files: Array<Record<string, unknown>> | undefined, path: string): void {
  for (const [i, f] of (files ?? []).entries()) {
    const sources = ['autoStorageContainerName', 'storageContainerUrl', 'httpUrl'].filter((k) => f[k] !== undefined);
    if (sources.length !== 1) {
      throw invalid(`${path}[${i}]`, f, 'Exactly one of autoStorageContainerName, storageContainerUrl and httpUrl must be given');
    }
    if (f.httpUrl !== undefined && !f.filePath) {
      throw new ServiceError(400, 'MissingRequiredProperty', 'A required property was not specified in the request body.', [
        { key: 'PropertyName', value: `${path}[${i}].filePath` },
      ]);
    }
    if (typeof f.filePath === 'string' && (f.filePath.startsWith('/') || f.filePath.split('/').includes('..'))) {
      throw invalid(`${path}[${i}].filePath`, f.filePath, 'A file path is relative to the working directory and cannot leave it');
    }
  }
}
