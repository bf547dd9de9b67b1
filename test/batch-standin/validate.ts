// Request-body checks the Batch service makes: required properties, known enum values, id syntax,
// ISO 8601 durations. Failures carry the service's error codes.

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

type Schema =
  | { t: 'object'; props: Record<string, Schema>; required?: string[] }
  | { t: 'string'; pattern?: RegExp; maxLength?: number }
  | { t: 'id' }
  | { t: 'enum'; values: string[] }
  | { t: 'int'; min?: number; max?: number }
  | { t: 'bool' }
  | { t: 'duration' }
  | { t: 'datetime' }
  | { t: 'array'; items: Schema };

// Request bodies are checked against the OpenAPI definitions in ./spec/batch-service.ts.
export {
  JobAddParameter as JOB_ADD,
  JobPatchParameter as JOB_PATCH,
  JobTerminateParameter as JOB_TERMINATE,
  TaskAddCollectionParameter as TASK_COLLECTION,
  JobScheduleAddParameter as JOB_SCHEDULE_ADD,
} from './spec/batch-service.js';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** ISO 8601 duration (days, hours, minutes, seconds) in milliseconds, or undefined if it is not one. */
export function durationMs(s: string): number | undefined {
  const m = DURATION.exec(s);
  if (!m || s === 'P' || s.endsWith('T')) return undefined;
  const [, d, h, min, sec] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(sec ?? 0) * 1000;
}

function invalid(path: string, value: unknown, reason: string): ServiceError {
  return new ServiceError(400, 'InvalidPropertyValue', `The value provided for one of the properties in the request body is invalid.`, [
    { key: 'PropertyName', value: path },
    { key: 'PropertyValue', value: typeof value === 'string' ? value : JSON.stringify(value) },
    { key: 'Reason', value: reason },
  ]);
}

/**
 * Checks `value` against `schema`, throwing the service's error for the first problem. Enum values
 * are accepted in any case (as the service does) and rewritten in lower case.
 */
export function validate(schema: Schema | ZodType, value: unknown, path = ''): unknown {
  if (schema instanceof ZodType) return checkRequest(schema, value);
  switch (schema.t) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(path || 'body', value, 'Expected an object');
      const o = value as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (k.startsWith('odata.')) continue;
        const child = schema.props[k];
        if (!child) {
          throw new ServiceError(400, 'InvalidRequestBody', 'The specified Request Body is not syntactically valid.', [
            { key: 'Reason', value: `Unknown property ${path ? `${path}.` : ''}${k}` },
          ]);
        }
        if (o[k] === null) continue;
        o[k] = validate(child, o[k], path ? `${path}.${k}` : k);
      }
      for (const r of schema.required ?? []) {
        if (o[r] === undefined || o[r] === null) {
          throw new ServiceError(400, 'MissingRequiredProperty', 'A required property was not specified in the request body.', [
            { key: 'PropertyName', value: path ? `${path}.${r}` : r },
          ]);
        }
      }
      return o;
    }
    case 'array':
      if (!Array.isArray(value)) throw invalid(path, value, 'Expected an array');
      return value.map((v, i) => validate(schema.items, v, `${path}[${i}]`));
    case 'string':
      if (typeof value !== 'string') throw invalid(path, value, 'Expected a string');
      if (schema.pattern && !schema.pattern.test(value)) throw invalid(path, value, 'The value has the wrong format');
      if (schema.maxLength !== undefined && value.length > schema.maxLength) throw invalid(path, value, `Longer than ${schema.maxLength}`);
      return value;
    case 'id':
      if (typeof value !== 'string' || !ID.test(value)) {
        throw invalid(path, value, 'An id has 1 to 64 letters, digits, hyphens and underscores');
      }
      return value;
    case 'enum': {
      const v = typeof value === 'string' ? value.toLowerCase() : undefined;
      if (v === undefined || !schema.values.includes(v)) throw invalid(path, value, `Expected one of ${schema.values.join(', ')}`);
      return v;
    }
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(path, value, 'Expected an integer');
      if ((schema.min !== undefined && value < schema.min) || (schema.max !== undefined && value > schema.max)) {
        throw invalid(path, value, `Expected an integer between ${schema.min} and ${schema.max}`);
      }
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw invalid(path, value, 'Expected true or false');
      return value;
    case 'duration':
      if (typeof value !== 'string' || durationMs(value) === undefined) throw invalid(path, value, 'Expected an ISO 8601 duration');
      return value;
    case 'datetime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalid(path, value, 'Expected an ISO 8601 date and time');
      return value;
  }
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
