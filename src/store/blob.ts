/**
 * Azure Blob Storage as a Store: paged listing under a prefix, atomic writes (one Put Blob, or staged
 * blocks committed at once, so a blob is never visible half-written), conditional writes, and
 * redacted one-line errors.
 *
 * @example
 * const store = await openBlobStore('https://acct.blob.core.windows.net/images/2024');
 * for await (const entry of store.list()) console.log(entry.name, entry.size);
 */
import { createHash, randomBytes } from 'node:crypto';
import { finished } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlobServiceClient, newPipeline, type ContainerClient, type BlobItem } from '@azure/storage-blob';
import { RestError, createDefaultHttpClient, type HttpClient, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { Store, StoreEntry, ReadOptions, WriteOptions } from '../interfaces.js';
import { VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { parseBlobLocation, displayLocation, type BlobLocation } from './location.js';
import { resolveCredential, type CredentialOptions, type ResolvedCredential } from './credentials.js';
import { StorageError, describeFailure, errorCodeOf, statusOf } from './blob-errors.js';
import { redact } from './redact.js';

export { isTransient, StorageError } from './blob-errors.js';
export { safeRelativeName } from './names.js';
export { redact } from './redact.js';

export interface BlobStoreOptions extends CredentialOptions {
  /** Tries per request, including the first (SDK retry policy). Default 5. */
  maxTries?: number;
  /** Base of the exponential backoff between tries. Default 500 ms. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A try that has not answered within this time is abandoned and retried. Default 60 s. */
  tryTimeoutMs?: number;
  /** Blobs up to this size go up in one Put Blob; bigger ones in staged blocks. Default 32 MiB. */
  singleUploadLimit?: number;
  /** Block size for staged uploads. Default 8 MiB. */
  blockSize?: number;
  /** Blobs per listing page (at most 5000). */
  pageSize?: number;
}

const DEFAULTS = {
  maxTries: 5,
  retryDelayMs: 500,
  maxRetryDelayMs: 8_000,
  tryTimeoutMs: 60_000,
  singleUploadLimit: 32 * 1024 * 1024,
  blockSize: 8 * 1024 * 1024,
  pageSize: 5000,
};

/**
 * Gives every try its own deadline. The SDK's retry policy only retries network errors, so a try
 * that timed out is reported as ETIMEDOUT (retried) unless the caller aborted.
 *
 * The deadline ends when the headers arrive, but the caller's abort goes on reaching a streamed body
 * (a download) until that body ends or fails: a big blob still arriving must stop when the job does.
 */
function timeoutHttpClient(inner: HttpClient, ms: number): HttpClient {
  return {
    async sendRequest(request: PipelineRequest) {
      const outer = request.abortSignal;
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, ms);
      const onAbort = () => controller.abort();
      const unlink = () => outer?.removeEventListener('abort', onAbort);
      if (outer?.aborted) controller.abort();
      outer?.addEventListener('abort', onAbort, { once: true });
      request.abortSignal = controller.signal;
      let response: PipelineResponse;
      try {
        response = await inner.sendRequest(request);
      } catch (err) {
        unlink();
        if (timedOut && !outer?.aborted) {
          throw new RestError(`no answer within ${ms} ms`, { code: 'ETIMEDOUT', request });
        }
        throw err;
      } finally {
        clearTimeout(timer);
        request.abortSignal = outer;
      }
      const body = response.readableStreamBody;
      if (outer && body) {
        // Removed once the body is done, however it ends, so a long job does not pile up listeners.
        const stopWatching = finished(body, () => {
          stopWatching();
          unlink();
        });
      } else {
        unlink();
      }
      return response;
    },
  };
}

/** Opens `https://ACCOUNT.blob.../CONTAINER/PREFIX`, an emulator URL, or `az://CONTAINER/PREFIX` with the credential the environment gives. */
export async function openBlobStore(location: string, options: BlobStoreOptions = {}): Promise<BlobStore> {
  const loc = parseBlobLocation(location, options.env ?? process.env);
  const cred = await resolveCredential(loc, options);
  if (cred.method === 'token' && loc.serviceUrl.startsWith('http:')) {
    // The SDK refuses to send bearer tokens in clear text; say so before any request is made.
    throw new UsageError(
      `Expected an https endpoint for ${displayLocation(loc)}: a token from ${cred.description} is only sent over https ` +
        '(or set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, or add a SAS)',
    );
  }
  return new BlobStore(loc, cred, options);
}

export class BlobStore implements Store {
  readonly location: string;
  readonly container: ContainerClient;
  readonly prefix: string;
  private readonly opts: typeof DEFAULTS;

  constructor(
    readonly blobLocation: BlobLocation,
    readonly credential: ResolvedCredential,
    options: BlobStoreOptions = {},
  ) {
    this.opts = {
      maxTries: options.maxTries ?? DEFAULTS.maxTries,
      retryDelayMs: options.retryDelayMs ?? DEFAULTS.retryDelayMs,
      maxRetryDelayMs: options.maxRetryDelayMs ?? DEFAULTS.maxRetryDelayMs,
      tryTimeoutMs: options.tryTimeoutMs ?? DEFAULTS.tryTimeoutMs,
      singleUploadLimit: options.singleUploadLimit ?? DEFAULTS.singleUploadLimit,
      blockSize: options.blockSize ?? DEFAULTS.blockSize,
      pageSize: Math.min(5000, Math.max(1, options.pageSize ?? DEFAULTS.pageSize)),
    };
    this.location = redact(displayLocation(blobLocation));
    this.prefix = blobLocation.prefix;
    const pipeline = newPipeline(credential.credential, {
      retryOptions: {
        maxTries: this.opts.maxTries,
        retryDelayInMs: this.opts.retryDelayMs,
        maxRetryDelayInMs: this.opts.maxRetryDelayMs,
      },
      userAgentOptions: { userAgentPrefix: `pixbatch/${VERSION}` },
    });
    // The public `httpClient` option takes the SDK's older client shape; the pipeline keeps the current
    // shape under this name and uses it as is, which is how every try gets its own deadline.
    Object.assign(pipeline, { _coreHttpClient: timeoutHttpClient(createDefaultHttpClient(), this.opts.tryTimeoutMs) });
    const url = credential.sas ? `${blobLocation.serviceUrl}?${credential.sas}` : blobLocation.serviceUrl;
    this.container = new BlobServiceClient(url, pipeline).getContainerClient(blobLocation.container);
  }

  private fail(err: unknown, operation: string): StorageError {
    if (err instanceof StorageError) return err;
    return describeFailure(err, {
      operation,
      location: this.location,
      credential: this.credential.description,
      container: this.blobLocation.container,
      skipped: this.credential.skipped,
    });
  }

  private entry(name: string, item: Pick<BlobItem, 'properties' | 'metadata'>): StoreEntry {
    return {
      name,
      size: item.properties.contentLength ?? 0,
      mtimeMs: item.properties.lastModified?.getTime() ?? 0,
      etag: item.properties.etag ?? '',
      metadata: item.metadata ?? {},
    };
  }

  /** Streams entries page by page (never the whole listing in memory); names are relative to the location's prefix. */
  async *list(options: { abortSignal?: AbortSignal; prefix?: string } = {}): AsyncIterable<StoreEntry> {
    const prefix = this.prefix + (options.prefix ?? '');
    const pages = this.container
      .listBlobsFlat({ prefix, includeMetadata: true, abortSignal: options.abortSignal })
      .byPage({ maxPageSize: this.opts.pageSize });
    while (true) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.fail(err, 'list');
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        const name = item.name.slice(this.prefix.length);
        // Folder markers (hierarchical namespace accounts, tools that create "folders") are not objects.
        if (!name || name.endsWith('/') || item.metadata?.hdi_isfolder === 'true') continue;
        yield this.entry(name, item);
      }
    }
  }

  async stat(name: string, options: ReadOptions = {}): Promise<StoreEntry | undefined> {
    try {
      const p = await this.container.getBlobClient(this.prefix + name).getProperties({ abortSignal: options.abortSignal });
      return { name, size: p.contentLength ?? 0, mtimeMs: p.lastModified?.getTime() ?? 0, etag: p.etag ?? '', metadata: p.metadata ?? {} };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.fail(err, `stat ${name} in`);
    }
  }

  async read(name: string, options: ReadOptions = {}): Promise<Buffer> {
    const blob = this.container.getBlobClient(this.prefix + name);
    // The SDK retries failed requests, but a body cut off mid-way surfaces as an AbortError it does not
    // retry; those are retried here with a fresh GET (the user's own abort is not).
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await blob.download(0, undefined, { abortSignal: options.abortSignal, maxRetryRequests: this.opts.maxTries });
        const body = res.readableStreamBody as NodeJS.ReadableStream & { destroy(err?: Error): void };
        const chunks: Buffer[] = [];
        let length = 0;
        // The per-try deadline ends when headers arrive; a body that stalls is abandoned here.
        const stalled = () => body.destroy(new StorageError(`read ${name} from ${this.location} failed: no data for ${this.opts.tryTimeoutMs} ms`, 'ETIMEDOUT', undefined, true));
        let idle = setTimeout(stalled, this.opts.tryTimeoutMs);
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            clearTimeout(idle);
            idle = setTimeout(stalled, this.opts.tryTimeoutMs);
            chunks.push(chunk);
            length += chunk.length;
          }
        } finally {
          clearTimeout(idle);
        }
        if (res.contentLength !== undefined && length !== res.contentLength) {
          throw new StorageError(`read ${name} from ${this.location} failed: got ${length} of ${res.contentLength} bytes`, 'ECONNRESET', undefined, true);
        }
        return Buffer.concat(chunks, length);
      } catch (err) {
        if (statusOf(err) === 404) throw new StorageError(`read ${name} from ${this.location} failed: 404, blob does not exist`, 'ENOENT', 404, false);
        const cut = !options.abortSignal?.aborted && ((err as Error)?.name === 'AbortError' || (err instanceof StorageError && err.transient));
        if (cut && attempt < this.opts.maxTries) {
          await sleep(Math.min(this.opts.maxRetryDelayMs, this.opts.retryDelayMs * 2 ** (attempt - 1)));
          continue;
        }
        if (cut) throw new StorageError(`read ${name} from ${this.location} failed: the connection closed before the whole blob arrived`, 'ECONNRESET', undefined, true);
        throw this.fail(err, `read ${name} from`);
      }
    }
  }

  /**
   * Writes atomically. With `ifNotExists`, fails with code `EEXIST` when the blob exists, except when it
   * holds exactly these bytes and metadata (our own earlier try whose answer was lost), which counts as done.
   */
  async write(name: string, data: Buffer, options: WriteOptions = {}): Promise<void> {
    const blob = this.container.getBlockBlobClient(this.prefix + name);
    const md5 = createHash('md5').update(data).digest();
    const blobHTTPHeaders = { blobContentType: options.contentType ?? 'application/octet-stream', blobContentMD5: md5 };
    const conditions = options.ifNotExists ? { ifNoneMatch: '*' } : undefined;
    const common = { abortSignal: options.abortSignal, blobHTTPHeaders, metadata: options.metadata, conditions };
    try {
      if (data.length <= this.opts.singleUploadLimit) {
        await blob.upload(data, data.length, common);
      } else {
        // Uncommitted blocks are invisible; the commit makes the whole blob appear at once.
        const tag = randomBytes(6).toString('hex');
        const ids: string[] = [];
        for (let offset = 0, i = 0; offset < data.length; offset += this.opts.blockSize, i++) {
          const id = Buffer.from(`${tag}-${String(i).padStart(6, '0')}`).toString('base64');
          ids.push(id);
          const part = data.subarray(offset, offset + this.opts.blockSize);
          await blob.stageBlock(id, part, part.length, { abortSignal: options.abortSignal });
        }
        await blob.commitBlockList(ids, common);
      }
    } catch (err) {
      const status = statusOf(err);
      if (options.ifNotExists && (status === 409 || status === 412)) {
        if (await this.holds(name, md5, options.metadata)) return;
        throw new StorageError(`write ${name} to ${this.location}: the blob already exists`, 'EEXIST', status, false);
      }
      throw this.fail(err, `write ${name} to`);
    }
  }

  /** Whether the blob already holds exactly these bytes and metadata; a failure to look is thrown (the caller may retry). */
  private async holds(name: string, md5: Buffer, metadata: Record<string, string> | undefined): Promise<boolean> {
    let p;
    try {
      p = await this.container.getBlobClient(this.prefix + name).getProperties();
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw this.fail(err, `write ${name} to`);
    }
    if (!p.contentMD5 || !md5.equals(Buffer.from(p.contentMD5))) return false;
    const have = p.metadata ?? {};
    return Object.entries(metadata ?? {}).every(([k, v]) => have[k.toLowerCase()] === v);
  }

  /** Source: the container must exist and be listable. Destination: the container is created when missing. */
  async prepare(mode: 'source' | 'destination'): Promise<void> {
    if (mode === 'destination') {
      try {
        await this.container.createIfNotExists();
        return;
      } catch (err) {
        // A SAS or role scoped to one container may write blobs but not create containers: fine if it exists.
        if (statusOf(err) !== 403) throw this.fail(err, 'create container for');
        try {
          await this.probe();
          return;
        } catch {
          throw this.fail(err, 'create container for');
        }
      }
    }
    try {
      await this.probe();
    } catch (err) {
      throw this.fail(err, 'list');
    }
  }

  private async probe(): Promise<void> {
    await this.container.listBlobsFlat({ prefix: this.prefix }).byPage({ maxPageSize: 1 }).next();
  }
}

/** The service's error code of a storage error, for callers that want to branch on it. */
export { errorCodeOf };
