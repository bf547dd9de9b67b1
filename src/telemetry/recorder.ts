// The main thread's side of telemetry. Loading the OpenTelemetry SDK and an exporter costs a few
// hundred milliseconds of CPU, which a short job (a Batch task converts one shard, a Functions
// invocation a few images) would pay in full before its first image. So the SDK lives in a worker
// thread (export-worker.ts), started as early as the process knows telemetry is on, while the main
// thread is still loading the CLI and the second core is idle. The main thread only notes what
// happened, with its time, in small arrays it posts in batches; the worker replays them as spans
// and metrics with those times and exports them.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { Worker } from 'node:worker_threads';
import { checkTelemetrySettings, type Sampling } from './settings.js';

/** Span and metric events, in the order they happened. Times are epoch milliseconds (fractional). */
export type TelemetryEvent =
  /** A job span starts: id, name, attributes, time. */
  | ['job', number, string, Record<string, string | number>, number]
  /** An image span starts under a job span: id, parent id, attributes, time. */
  | ['image', number, number, Record<string, string | number>, number]
  /** A finished stage of an image: parent id, name, start, end, failed. */
  | ['stage', number, string, number, number, boolean]
  /** A span ends: id, attributes to add, error message (undefined: ok), time. */
  | ['end', number, Record<string, string | number>, string | undefined, number]
  /** An image's record for the metrics: metric attributes, status, failure code, bytes in, bytes out, seconds. */
  | ['record', Record<string, string>, string, string | undefined, number | undefined, number | undefined, number | undefined];

/**
 * Messages from the main thread to the export worker: the environment to start the SDK from (sent
 * when the first job starts, after a config file may have added variables) with the share of images
 * whose spans are kept, events, a flush.
 */
export type ToWorker = { start: Record<string, string | undefined>; imageRatio: number } | { events: TelemetryEvent[]; depth: number } | { flush: number };
/** Messages from the export worker: a flush is done, or the SDK could not start. */
export type FromWorker = { flushed: number } | { failed: string };

/** Events wait at most this long before they are posted, so a long job's spans reach the worker steadily. */
const POST_EVERY_MS = 500;
/** ...or until this many are waiting. */
const POST_AT = 1024;

/** Epoch milliseconds with the monotonic clock's resolution. */
export const now = () => performance.timeOrigin + performance.now();

/**
 * Node 22.1 and later keep the code a thread compiles for the next process once the thread asks
 * (`module.enableCompileCache`, which honours NODE_COMPILE_CACHE and NODE_DISABLE_COMPILE_CACHE), so
 * later runs skip compiling the bundle. Node 20 has no such cache and starts the file itself.
 */
const HAS_COMPILE_CACHE = 'enableCompileCache' in module;

/** The file name of the export thread's bundle, which the build writes next to this module (src/batch/bundle.ts). */
export const EXPORT_WORKER_BUNDLE = 'export-worker.bundle.js';

/**
 * The export worker next to this module: the bundle a build writes (its entry and the chunks it
 * loads, the configured exporter's only, load much faster than the SDK's few hundred modules), else
 * the compiled module. Run from the TypeScript sources (as the tests do), the worker registers tsx
 * first: Node 20's workers do not inherit the parent's module hooks.
 */
function startWorker(): Worker {
  const options = { execArgv: workerExecArgv(), stdout: false, stderr: false };
  for (const name of [EXPORT_WORKER_BUNDLE, 'export-worker.js']) {
    const url = new URL(`./${name}`, import.meta.url);
    if (!existsSync(url)) continue;
    if (!HAS_COMPILE_CACHE) return new Worker(url, options);
    // The cache must be on in the worker before the first module is compiled, hence a boot that turns it on and then imports.
    return new Worker(`require('node:module').enableCompileCache(); import(${JSON.stringify(url.href)})`, { ...options, eval: true });
  }
  const source = new URL('./export-worker.ts', import.meta.url);
  if (!existsSync(source)) throw new Error('the telemetry export worker is missing from this installation');
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(source.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/**
 * Node options a worker accepts from this process: module hooks (`--import`, `--require`, `--loader`,
 * as a TypeScript loader or an APM agent uses) and conditions. Others, such as `--test`, are refused.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.split('=')[0]!;
    if (!['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C'].includes(name)) continue;
    out.push(a);
    if (!a.includes('=') && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

export class Recorder {
  private worker: Worker | undefined;
  private pending: TelemetryEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushes = new Map<number, () => void>();
  private nextFlush = 0;
  private nextId = 0;
  private settings: Sampling | undefined;
  /** Images admitted and not yet done, over every job in this process: the queue-depth gauge, sent with each batch of events. */
  depth = 0;

  constructor() {
    let worker: Worker;
    try {
      worker = startWorker();
    } catch (err) {
      this.stop(err);
      return;
    }
    this.worker = worker;
    // Never the reason a process stays alive; a flush holds it while it waits (see flush).
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if ('failed' in m) this.stop(m.failed);
      else this.settle(m.flushed);
    });
    worker.on('error', (err) => this.stop(err));
    worker.on('exit', () => this.stop());
  }

  /**
   * Checks the telemetry variables in `env` and, the first time, has the worker start the SDK from
   * them; later calls return the first settings (one SDK per process). Throws a usage error for a
   * wrong variable.
   */
  start(env: NodeJS.ProcessEnv): Sampling {
    if (this.settings) return this.settings;
    this.settings = checkTelemetrySettings(env);
    this.worker?.postMessage({ start: { ...env }, imageRatio: this.settings.images } satisfies ToWorker);
    return this.settings;
  }

  get sampling(): Sampling {
    return this.settings ?? { jobs: false, images: 0 };
  }

  /** A new span id. */
  id(): number {
    return ++this.nextId;
  }

  note(event: TelemetryEvent): void {
    if (!this.worker) return;
    this.pending.push(event);
    if (this.pending.length >= POST_AT) this.post();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.post(), POST_EVERY_MS);
      this.timer.unref();
    }
  }

  /** Posts what is waiting and has the worker send everything it holds, waiting at most `ms`. */
  async flush(ms: number): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.post();
    const id = ++this.nextFlush;
    worker.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.flushes.set(id, resolve);
        timer = setTimeout(() => this.settle(id), ms);
        worker.postMessage({ flush: id } satisfies ToWorker);
      });
    } finally {
      clearTimeout(timer);
      if (this.flushes.size === 0) this.worker?.unref();
    }
  }

  private post(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.worker) return;
    this.worker.postMessage({ events: this.pending, depth: this.depth } satisfies ToWorker);
    this.pending = [];
  }

  private settle(id: number): void {
    const resolve = this.flushes.get(id);
    this.flushes.delete(id);
    resolve?.();
  }

  /** Telemetry is lost, never the job: one line on stderr, and every later event is dropped. */
  private stop(reason?: unknown): void {
    const worker = this.worker;
    this.worker = undefined;
    this.pending = [];
    clearTimeout(this.timer);
    for (const id of [...this.flushes.keys()]) this.settle(id);
    if (reason !== undefined) {
      process.stderr.write(`pixbatch: telemetry is off for the rest of this run: ${reason instanceof Error ? reason.message : String(reason)}\n`);
      void worker?.terminate();
    }
  }
}

let recorder: Recorder | undefined;

/** The process's recorder; its worker starts loading the SDK the first time it is asked for. */
export function processRecorder(): Recorder {
  return (recorder ??= new Recorder());
}
