import picomatch from 'picomatch';
import type { FailureCode, ListingCount, Store, StoreEntry, WorkItem } from '../interfaces.js';
import type { ResolvedOptions } from '../options.js';
import { META_SOURCE_ETAG, META_SPEC, outputNameFor, specId } from '../convert/spec.js';
import { orderedMap } from './ordered-map.js';
import { safeRelativeName } from '../store/names.js';
import { withRetries } from '../engine/retry.js';

export type PlannedItem = WorkItem &
  ({ action: 'convert'; reason?: string } | { action: 'skip'; reason: string } | { action: 'fail'; code: FailureCode; reason: string });

/** Matches names relative to the source against the include and exclude globs (case-insensitive). */
export function nameFilter(include: string[], exclude: string[]): (name: string) => boolean {
  const inc = picomatch(include, { nocase: true });
  const exc = exclude.length ? picomatch(exclude, { nocase: true }) : () => false;
  return (name) => inc(name) && !exc(name);
}

/** Why an output counts as up to date with its source, or undefined when it must be (re)converted. */
export function upToDateReason(source: Pick<StoreEntry, 'etag' | 'mtimeMs'>, output: StoreEntry | undefined, spec: string): string | undefined {
  if (!output) return undefined;
  const meta = output.metadata;
  if (meta && meta[META_SOURCE_ETAG] !== undefined) {
    return meta[META_SOURCE_ETAG] === source.etag && meta[META_SPEC] === spec ? 'up to date' : undefined;
  }
  // An output without a record of its source (written by another tool, or the record was lost in a crash)
  // is trusted when it is newer than the source, as azcopy's ifSourceNewer does.
  return output.mtimeMs >= source.mtimeMs ? 'up to date (output newer than source)' : undefined;
}

/** The source's entries that the include and exclude globs select, as the listing pages them. */
export async function* selectedEntries(source: Store, options: Pick<ResolvedOptions, 'include' | 'exclude'>, signal?: AbortSignal): AsyncGenerator<StoreEntry> {
  const select = nameFilter(options.include, options.exclude);
  for await (const entry of source.list({ abortSignal: signal })) {
    // A name with `..` never matches a glob, so it is judged by what it would become without them:
    // such a blob is then reported as unsafe rather than silently left out.
    const candidate = safeRelativeName(entry.name) ?? entry.name.split(/[\\/]/).filter((p) => p && p !== '.' && p !== '..').join('/');
    if (select(candidate)) yield entry;
  }
}

/**
 * Lists the source a second time, ahead of the conversions, and counts what the globs select. The
 * planning listing is pulled only as fast as images convert; this one is not, so a run knows its
 * total (and its ETA) as soon as the listing ends. Only the count is kept, so memory stays flat
 * however many objects the source holds. A failed count leaves the total unknown and the job goes on:
 * the planning listing reports the fault if it is real.
 *
 * @example
 * const ahead = countAhead(source, options, signal);
 * // ahead.progress.count grows; ahead.progress.complete turns true when the listing has ended
 * await ahead.stop();
 */
export function countAhead(source: Store, options: Pick<ResolvedOptions, 'include' | 'exclude'>, signal: AbortSignal): { progress: ListingCount; stop(): Promise<void> } {
  const progress: ListingCount = { count: 0, bytes: 0, complete: false };
  const controller = new AbortController();
  const stopWithJob = () => controller.abort(signal.reason);
  signal.addEventListener('abort', stopWithJob, { once: true });
  const counting = (async () => {
    try {
      for await (const entry of selectedEntries(source, options, controller.signal)) {
        progress.count++;
        progress.bytes += entry.size;
      }
      progress.complete = true;
    } catch {
      // Unknown total: shown with a `+` and no ETA, as before.
    } finally {
      signal.removeEventListener('abort', stopWithJob);
    }
  })();
  return {
    progress,
    stop: async () => {
      controller.abort();
      await counting;
    },
  };
}

/**
 * Lists the source once, keeps the names the globs select, and decides per image whether it must be
 * converted. Streams: nothing but the set of output names is held for the whole listing.
 */
export async function* plan(source: Store, destination: Store, options: ResolvedOptions, signal?: AbortSignal): AsyncGenerator<PlannedItem> {
  const spec = specId(options.spec);
  const outputs = new Map<string, string>();

  const decide = async (entry: StoreEntry): Promise<PlannedItem> => {
    const safe = safeRelativeName(entry.name);
    // The output name comes from the normalised name; the source is still read under its own name.
    const output = outputNameFor(safe ?? entry.name, options.spec);
    const base = { name: entry.name, output, size: entry.size, etag: entry.etag, mtimeMs: entry.mtimeMs };
    if (safe === undefined) {
      return { ...base, action: 'fail', code: 'UNSAFE_NAME', reason: 'name contains "..", an absolute path or control characters and could escape the destination' };
    }
    if (options.overwrite === 'always') return { ...base, action: 'convert' };
    const existing = await withRetries(() => destination.stat(output, { abortSignal: signal }), { signal });
    if (!existing) return { ...base, action: 'convert' };
    if (options.overwrite === 'never') return { ...base, action: 'skip', reason: 'output exists (--overwrite never)' };
    const why = upToDateReason(entry, existing, spec);
    return why ? { ...base, action: 'skip', reason: why } : { ...base, action: 'convert', reason: 'stale output' };
  };

  for await (const item of orderedMap(selectedEntries(source, options, signal), options.ioConcurrency, decide)) {
    const first = outputs.get(item.output);
    if (first !== undefined && item.action !== 'fail') {
      yield { ...item, action: 'fail', code: 'EXISTS', reason: `output ${item.output} would also be written from ${first}; rename one of them` };
      continue;
    }
    outputs.set(item.output, item.name);
    yield item;
  }
}
