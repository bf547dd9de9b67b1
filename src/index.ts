// The library: `import { convert } from 'pixbatch'`. The CLI is a thin shell over these.
export * from './interfaces.js';
export type { ConvertOptions } from './options.js';
export { UsageError, JobError } from './errors.js';
export { convert } from './engine/local.js';
export { resolveOptions } from './options.js';
export type { ResolvedOptions } from './options.js';
export { convertImage, ImageError } from './convert/image.js';
export { openStore } from './store/index.js';
export { FsStore } from './store/fs.js';
export { runPipeline } from './engine/pipeline.js';
export { plan } from './plan/plan.js';
export { generate } from './generate/generate.js';
export type { GenerateOptions, GenerateResult } from './generate/generate.js';
export { renderHtmlReport, writeHtmlReport } from './report/html.js';
export { notifyJobEnd, outcomeOf, signWebhook, verifyWebhookSignature } from './report/notify.js';
export type { JobOutcome, NotifyOptions, NotifyResult } from './report/notify.js';
