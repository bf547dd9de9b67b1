// The library: `import { convert } from 'pixbatch'`. The CLI is a thin shell over these.
export * from './interfaces.js';
export type { ConvertOptions } from './options.js';
export { UsageError, JobError } from './errors.js';
