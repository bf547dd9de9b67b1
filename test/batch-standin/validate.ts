// Request-body checks the Batch service makes: required properties, known enum values, id syntax,
// ISO 8601 durations. Failures carry the service's error codes.

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

const str: Schema = { t: 'string' };
const bool: Schema = { t: 'bool' };
const duration: Schema = { t: 'duration' };
const nameValue: Schema = { t: 'object', props: { name: str, value: str }, required: ['name', 'value'] };
const envSetting: Schema = { t: 'object', props: { name: str, value: str }, required: ['name'] };
const resourceFile: Schema = {
  t: 'object',
  props: {
    autoStorageContainerName: str,
    storageContainerUrl: str,
    httpUrl: str,
    blobPrefix: str,
    filePath: str,
    fileMode: { t: 'string', pattern: /^[0-7]{3,4}$/ },
    identityReference: { t: 'object', props: { resourceId: str } },
  },
};
const taskConstraints: Schema = {
  t: 'object',
  props: { maxWallClockTime: duration, retentionTime: duration, maxTaskRetryCount: { t: 'int', min: -1, max: 100 } },
};
const userIdentity: Schema = {
  t: 'object',
  props: {
    username: str,
    autoUser: {
      t: 'object',
      props: { scope: { t: 'enum', values: ['task', 'pool'] }, elevationLevel: { t: 'enum', values: ['nonadmin', 'admin'] } },
    },
  },
};
const commonTask = {
  commandLine: str,
  resourceFiles: { t: 'array', items: resourceFile } as Schema,
  environmentSettings: { t: 'array', items: envSetting } as Schema,
  userIdentity,
};
const jobPreparationTask: Schema = {
  t: 'object',
  props: {
    id: { t: 'id' },
    ...commonTask,
    constraints: taskConstraints,
    waitForSuccess: bool,
    rerunOnNodeRebootAfterSuccess: bool,
  },
  required: ['commandLine'],
};
const jobReleaseTask: Schema = {
  t: 'object',
  props: { id: { t: 'id' }, ...commonTask, maxWallClockTime: duration, retentionTime: duration },
  required: ['commandLine'],
};
const jobManagerTask: Schema = {
  t: 'object',
  props: {
    id: { t: 'id' },
    displayName: { t: 'string', maxLength: 1024 },
    ...commonTask,
    constraints: taskConstraints,
    requiredSlots: { t: 'int', min: 1, max: 1 },
    killJobOnCompletion: bool,
    runExclusive: bool,
    allowLowPriorityNode: bool,
    authenticationTokenSettings: { t: 'object', props: { access: { t: 'array', items: { t: 'enum', values: ['job'] } } } },
  },
  required: ['id', 'commandLine'],
};
const jobSpecProps: Record<string, Schema> = {
  displayName: { t: 'string', maxLength: 1024 },
  priority: { t: 'int', min: -1000, max: 1000 },
  constraints: { t: 'object', props: { maxWallClockTime: duration, maxTaskRetryCount: { t: 'int', min: -1, max: 100 } } },
  poolInfo: { t: 'object', props: { poolId: str }, required: ['poolId'] },
  jobManagerTask,
  jobPreparationTask,
  jobReleaseTask,
  commonEnvironmentSettings: { t: 'array', items: envSetting },
  onAllTasksComplete: { t: 'enum', values: ['noaction', 'terminatejob'] },
  onTaskFailure: { t: 'enum', values: ['noaction', 'performexitoptionsjobaction'] },
  metadata: { t: 'array', items: nameValue },
  usesTaskDependencies: bool,
};

export const JOB_ADD: Schema = { t: 'object', props: { id: { t: 'id' }, ...jobSpecProps }, required: ['id', 'poolInfo'] };
export const JOB_PATCH: Schema = {
  t: 'object',
  props: {
    priority: jobSpecProps.priority!,
    constraints: jobSpecProps.constraints!,
    onAllTasksComplete: jobSpecProps.onAllTasksComplete!,
    metadata: jobSpecProps.metadata!,
  },
};
export const JOB_TERMINATE: Schema = { t: 'object', props: { terminateReason: { t: 'string', maxLength: 64 } } };
export const TASK_ADD: Schema = {
  t: 'object',
  props: {
    id: { t: 'id' },
    displayName: { t: 'string', maxLength: 1024 },
    ...commonTask,
    constraints: taskConstraints,
    requiredSlots: { t: 'int', min: 1, max: 1 },
  },
  required: ['id', 'commandLine'],
};
export const TASK_COLLECTION: Schema = { t: 'object', props: { value: { t: 'array', items: TASK_ADD } }, required: ['value'] };
export const JOB_SCHEDULE_ADD: Schema = {
  t: 'object',
  props: {
    id: { t: 'id' },
    displayName: { t: 'string', maxLength: 1024 },
    schedule: {
      t: 'object',
      props: { doNotRunUntil: { t: 'datetime' }, doNotRunAfter: { t: 'datetime' }, startWindow: duration, recurrenceInterval: duration },
    },
    jobSpecification: { t: 'object', props: jobSpecProps, required: ['poolInfo'] },
    metadata: { t: 'array', items: nameValue },
  },
  required: ['id', 'schedule', 'jobSpecification'],
};

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
export function validate(schema: Schema, value: unknown, path = ''): unknown {
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
