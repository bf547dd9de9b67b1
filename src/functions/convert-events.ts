/**
 * Converts the blobs that Event Grid `BlobCreated` events name, through the same pipeline, stores and
 * up-to-date check as `pixbatch convert`. Delivery is at-least-once, so every event may come twice, late or
 * out of order: the source is looked up again (its current version is what gets converted) and the pipeline
 * skips an output that already records that version. Within one instance, two invocations holding the same
 * blob take turns, so a duplicate delivered at the same moment is skipped rather than converted twice.
 */
import pLimit from 'p-limit';
import { JobError } from '../errors.js';
import type { ImageRecord, Summary, WorkItem } from '../interfaces.js';
import { outputNameFor } from '../convert/spec.js';
import { pipelineLimits, runPipeline, type PipelineLimits } from '../engine/pipeline.js';
import { isStorageFailure, withRetries } from '../engine/retry.js';
import { nameFilter } from '../plan/plan.js';
import { orderedMap } from '../plan/ordered-map.js';
import { SummaryBuilder } from '../report/summary.js';
import { openBlobStore, type BlobStore } from '../store/blob.js';
import { safeRelativeName } from '../store/names.js';
import { redact } from '../store/redact.js';
import { normalizeEvent, selectBlob, type BlobEvent } from './events.js';
import type { FunctionSettings } from './settings.js';

/** What the handlers log through: the invocation context in Functions. */
export interface FunctionLog {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface EventsOutcome {
  summary: Summary;
  /** One per selected blob, in the order they finished. */
  records: ImageRecord[];
  /** Events that were not for this app (another type, container or prefix, or not matching the globs). */
  ignored: number;
}

/** At most this many reasons for ignoring events are remembered, so "logged once" cannot grow without bound. */
const LOGGED_ONCE_LIMIT = 1000;

export class BlobEventConverter {
  /** Blobs being converted in this instance, by source name: a later invocation waits its turn. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /**
   * Images held and converting across all invocations of this instance: concurrent invocations share one
   * run's limits, so an instance never needs more memory than one `pixbatch convert` with these options.
   */
  private readonly slots: ReturnType<typeof pLimit>;
  private readonly limits: PipelineLimits;
  private readonly select: (name: string) => boolean;
  private readonly loggedOnce = new Set<string>();

  private constructor(
    readonly settings: FunctionSettings,
    readonly source: BlobStore,
    readonly destination: BlobStore,
  ) {
    this.slots = pLimit(settings.options.concurrency + settings.options.ioConcurrency);
    this.limits = pipelineLimits(settings.options);
    this.select = nameFilter(settings.options.include, settings.options.exclude);
  }

  /** Opens both stores once per instance; Functions reuses the instance for many invocations. */
  static async open(settings: FunctionSettings): Promise<BlobEventConverter> {
    const source = await openBlobStore(settings.source, settings.store);
    const destination = await openBlobStore(settings.destination, settings.store);
    await destination.prepare('destination');
    return new BlobEventConverter(settings, source, destination);
  }

  private logOnce(log: FunctionLog, line: string): void {
    if (this.loggedOnce.has(line)) return;
    if (this.loggedOnce.size >= LOGGED_ONCE_LIMIT) this.loggedOnce.clear();
    this.loggedOnce.add(line);
    log.log(redact(line));
  }

  /** Waits for a turn with the blob `name` and a slot for one image; returns what frees both. */
  private take(name: string): { turn: Promise<void>; done: () => void } {
    const before = this.inFlight.get(name) ?? Promise.resolve();
    let finish!: () => void;
    const mine = new Promise<void>((resolve) => (finish = resolve));
    const chained = before.then(() => mine);
    this.inFlight.set(name, chained);
    let done = false;
    return {
      turn: before,
      done: () => {
        if (done) return;
        done = true;
        finish();
        if (this.inFlight.get(name) === chained) this.inFlight.delete(name);
      },
    };
  }

  private slot(): Promise<() => void> {
    return new Promise((acquired) => void this.slots(() => new Promise<void>((release) => acquired(release))));
  }

  /**
   * Converts what a batch of events (either schema) names. Bad images are failed records in the outcome;
   * a storage or credential failure throws, so the platform delivers the events again.
   */
  async convert(events: unknown[], log: FunctionLog, signal?: AbortSignal): Promise<EventsOutcome> {
    const { options } = this.settings;
    const summary = new SummaryBuilder();
    const records: ImageRecord[] = [];
    const record = (r: ImageRecord) => {
      summary.add(r);
      records.push(r);
      const line = r.status === 'failed' ? `failed ${r.name}: ${r.code} ${r.reason ?? ''}` : `${r.status} ${r.name} -> ${r.output}${r.ms !== undefined ? ` (${r.ms} ms)` : r.reason ? ` (${r.reason})` : ''}`;
      (r.status === 'failed' ? log.error : log.log).call(log, redact(line.trim()));
    };

    let ignored = 0;
    const names = new Map<string, BlobEvent>();
    for (const raw of events) {
      const event = normalizeEvent(raw);
      if (!event) {
        ignored++;
        this.logOnce(log, 'ignored a message that is neither an Event Grid nor a CloudEvents event');
        continue;
      }
      const picked = selectBlob(event, this.source.blobLocation);
      if ('ignored' in picked) {
        ignored++;
        this.logOnce(log, `ignored: ${picked.ignored}`);
        continue;
      }
      const safe = safeRelativeName(picked.name);
      // As the planner does: a name with `..` is judged by what it would become, then reported as unsafe.
      const candidate = safe ?? picked.name.split(/[\\/]/).filter((p) => p && p !== '.' && p !== '..').join('/');
      if (!this.select(candidate)) {
        ignored++;
        this.logOnce(log, `ignored: ${picked.name} does not match the include/exclude patterns`);
        continue;
      }
      // The same blob twice in one batch is one conversion.
      if (!names.has(picked.name)) names.set(picked.name, event);
    }

    const turns = new Map<string, ReturnType<BlobEventConverter['take']>>();
    const held = new Map<string, () => void>();
    const finish = (name: string) => {
      held.get(name)?.();
      held.delete(name);
      turns.get(name)?.done();
    };
    for (const name of names.keys()) turns.set(name, this.take(name));

    type Looked = { item: WorkItem } | { record: ImageRecord };
    const lookUp = async (name: string): Promise<Looked> => {
      const safe = safeRelativeName(name);
      const output = outputNameFor(safe ?? name, options.spec);
      if (safe === undefined) {
        return { record: { name, output, status: 'failed', code: 'UNSAFE_NAME', reason: 'name contains "..", an absolute path or control characters and could escape the destination' } };
      }
      await turns.get(name)!.turn;
      // The current version, not the event's: a late or out-of-order event converts what is there now.
      const entry = await withRetries(() => this.source.stat(name, { abortSignal: signal }), { signal });
      if (!entry) return { record: { name, output, status: 'skipped', reason: 'source no longer exists' } };
      return { item: { name, output, size: entry.size, etag: entry.etag, mtimeMs: entry.mtimeMs } };
    };

    const self = this;
    async function* work(): AsyncGenerator<WorkItem> {
      for await (const looked of orderedMap(toAsync(names.keys()), options.ioConcurrency, lookUp)) {
        if ('record' in looked) {
          record(looked.record);
          finish(looked.record.name);
          continue;
        }
        held.set(looked.item.name, await self.slot());
        yield looked.item;
      }
    }

    try {
      await runPipeline({
        items: work(),
        source: this.source,
        destination: this.destination,
        options,
        checkUpToDate: true,
        limits: this.limits,
        signal,
        onRecord: (r) => {
          record(r);
          finish(r.name);
        },
      });
    } finally {
      for (const name of names.keys()) finish(name);
    }

    const storage = records.filter(isStorageFailure);
    if (storage.length) {
      throw new JobError(`${storage.length} image(s) could not be read or written: ${redact(storage[0]!.reason ?? storage[0]!.code ?? '')}`, storage[0]!.code);
    }
    return { summary: summary.result({ source: this.source.location, destination: this.destination.location, spec: options.spec }), records, ignored };
  }
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
