// `pixbatch generate` and `generate()`: deterministic photo-like JPEGs for demos, tests and
// benchmarks. Pixels are painted from a seeded PRNG and encoded by sharp, so the same options
// always write the same bytes, whatever the concurrency or the machine's fonts.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { invalidOption, JobError } from '../errors.js';
import { jobSignal } from '../engine/job-signal.js';
import { withRetries } from '../engine/retry.js';
import { parseSize } from '../options.js';
import { openStore } from '../store/index.js';
import { BROKEN_KINDS, brokenBytes, type BrokenKind } from './broken.js';
import { paintPicture } from './picture.js';
import { mixSeed, Random } from './random.js';

/** Sub-folders images are spread over, round robin, so a recursive walk has something to walk. */
export const GENERATE_FOLDERS = 4;
export const DEFAULT_GENERATE_SIZE = { width: 800, height: 600 } as const;
export const DEFAULT_GENERATE_SEED = 1;
export const DEFAULT_GENERATE_QUALITY = 82;
const MAX_COUNT = 1_000_000;

/**
 * Options of `generate()` and `pixbatch generate`. Strings are accepted where the CLI passes strings.
 *
 * @example
 * import { generate } from 'pixbatch';
 * const { files, corrupt } = await generate({ destination: 'photos', count: 100, seed: 7, corrupt: 3 });
 * // files: ['set-01/img-00001.jpg', 'set-02/img-00002.jpg', ...], corrupt: ['set-01/bad-00001-truncated.jpg', ...]
 */
export interface GenerateOptions {
  /**
   * Where to write: a folder (created when missing), `az://CONTAINER/PREFIX` or
   * `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX` (the container is created when missing).
   * Existing files or blobs with the same names are replaced.
   */
  destination: string;
  /** Number of good images, 0-1000000. */
  count: number | string;
  /** `WxH` or an object; default 800x600. */
  size?: string | { width: number; height: number };
  /** 0-4294967295; default 1. The same seed gives byte-identical files. */
  seed?: number | string;
  /** Number of broken files to add (truncated JPEG, zero bytes, text named .jpg, in turn); default 0. */
  corrupt?: number | string;
  /** JPEG quality 1-100; default 82. */
  quality?: number | string;
  /** Images encoded at once; default: cores. */
  concurrency?: number | string;
  /** Files written or uploaded at once; default: 4 per core, at least 8. */
  ioConcurrency?: number | string;
  /**
   * Only these files: `[start, end)` over the `count` images followed by the `corrupt` broken files
   * (0-based). A Batch task writes one such range; the files are the same as in a whole run.
   */
  range?: { start: number; end: number };
  /** Called after each file is written. */
  onProgress?: (progress: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** Number of good images written. */
  images: number;
  /** Number of broken files written. */
  broken: number;
  /** Good images, relative to the destination with `/` separators, in index order (made when read). */
  readonly files: string[];
  /** Broken files, relative to the destination, in index order (made when read). */
  readonly corrupt: string[];
  /** Total bytes written. */
  bytes: number;
  seconds: number;
}

interface ResolvedGenerateOptions {
  destination: string;
  count: number;
  width: number;
  height: number;
  seed: number;
  corrupt: number;
  quality: number;
  concurrency: number;
  ioConcurrency: number;
  range?: { start: number; end: number };
}

function integer(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalidOption(name, `integer between ${min} and ${max}`, value);
  }
  return n;
}

/** Validates options at the boundary; throws a UsageError naming the option and what it accepts. */
export function resolveGenerateOptions(o: GenerateOptions): ResolvedGenerateOptions {
  if (typeof o.destination !== 'string' || o.destination.trim() === '') {
    throw invalidOption('destination', 'a folder path or a Blob Storage location', o.destination);
  }
  if (o.count === undefined || o.count === null || o.count === '') {
    throw invalidOption('count', `integer between 0 and ${MAX_COUNT}`, o.count);
  }
  const size = parseSize('size', o.size) ?? DEFAULT_GENERATE_SIZE;
  const { width, height } = size;
  if (width === undefined || height === undefined || width < 16 || height < 16 || width > 10_000 || height > 10_000) {
    throw invalidOption('size', 'size as WxH with each side between 16 and 10000', o.size);
  }
  const count = integer('count', o.count, 0, MAX_COUNT, 0);
  const corrupt = integer('corrupt', o.corrupt, 0, 100_000, 0);
  const cores = availableParallelism();
  const range = o.range;
  if (range !== undefined && !(Number.isInteger(range.start) && Number.isInteger(range.end) && range.start >= 0 && range.start <= range.end && range.end <= count + corrupt)) {
    throw invalidOption('range', `START:END with 0 <= START <= END <= ${count + corrupt} (images, then broken files)`, `${range.start}:${range.end}`);
  }
  return {
    destination: o.destination,
    count,
    width,
    height,
    seed: integer('seed', o.seed, 0, 0xffffffff, DEFAULT_GENERATE_SEED),
    corrupt,
    quality: integer('quality', o.quality, 1, 100, DEFAULT_GENERATE_QUALITY),
    concurrency: integer('concurrency', o.concurrency, 1, 1024, cores),
    ioConcurrency: integer('io-concurrency', o.ioConcurrency, 1, 4096, Math.max(8, cores * 4)),
    range,
  };
}

/** `set-02/img-00006.jpg`: name of the index-th (1-based) good image. */
export function imageName(index: number): string {
  return `${folderFor(index)}/img-${String(index).padStart(5, '0')}.jpg`;
}

/** `set-03/bad-00003-text.jpg`: name and kind of the index-th (1-based) broken file. */
export function brokenName(index: number): { name: string; kind: BrokenKind } {
  const kind = BROKEN_KINDS[(index - 1) % BROKEN_KINDS.length]!;
  return { name: `${folderFor(index)}/bad-${String(index).padStart(5, '0')}-${kind}.jpg`, kind };
}

function folderFor(index: number): string {
  return `set-${String(((index - 1) % GENERATE_FOLDERS) + 1).padStart(2, '0')}`;
}

/** Raw canvases in memory at once stay under this, so 100-megapixel pictures do not multiply by the lane count. */
const CANVAS_BUDGET = 512 * 1024 * 1024;

// Broken files draw from their own seed stream, so adding --corrupt never changes the good images.
const BROKEN_STREAM = 0x0bad_f11e;

async function encodePicture(o: ResolvedGenerateOptions, rng: Random, label: string, index: number, canvas: Buffer): Promise<Buffer> {
  const pixels = paintPicture(o.width, o.height, rng, label, canvas);
  return sharp(pixels, { raw: { width: o.width, height: o.height, channels: 3 } })
    // Standard Huffman tables, as cameras write them: half the encoding time of optimised ones.
    .jpeg({ quality: o.quality, optimiseCoding: false })
    .withExif({ IFD0: { Software: 'pixbatch generate', ImageDescription: `seed ${o.seed} image ${index}` } })
    .toBuffer();
}

/**
 * Writes `count` deterministic photo-like JPEGs named `set-NN/img-NNNNN.jpg` (spread over
 * four sub-folders), plus `corrupt` broken files named `set-NN/bad-NNNNN-KIND.jpg`, into a folder or
 * a Blob Storage location. With `range`, only those files: each image depends on the seed and its own
 * index only, so any split of the indices writes the same bytes as one run.
 *
 * @example
 * const { images } = await generate({ destination: 'demo/in', count: 200, size: '800x600', seed: 1 });
 * await generate({ destination: 'az://images', count: 100000 });
 */
export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const o = resolveGenerateOptions(options);
  const started = performance.now();
  const all = o.count + o.corrupt;
  const first = o.range?.start ?? 0;
  const end = o.range?.end ?? all;
  const store = await openStore(o.destination, 'destination');
  // Retry waits in flight listen for abort; they listen on the job's signal, not the caller's.
  const job = jobSignal(options.signal, o.ioConcurrency + 8);
  const signal = job.signal;
  let next = first;
  let done = 0;
  let bytes = 0;
  let failure: unknown;

  try {
    await store.prepare?.('destination');

    const encode = async (job: number, canvas: Buffer): Promise<{ name: string; data: Buffer }> => {
      if (job < o.count) {
        const index = job + 1;
        const data = await encodePicture(o, new Random(mixSeed(o.seed, index)), `#${String(index).padStart(5, '0')}`, index, canvas);
        return { name: imageName(index), data };
      }
      const index = job - o.count + 1;
      const broken = brokenName(index);
      const rng = new Random(mixSeed(o.seed ^ BROKEN_STREAM, index));
      const jpeg = broken.kind === 'truncated' ? await encodePicture(o, rng, `#${String(index).padStart(5, '0')}`, index, canvas) : Buffer.alloc(0);
      return { name: broken.name, data: brokenBytes(broken.kind, jpeg, rng) };
    };

    // Uploads run beside the encoding, at most `ioConcurrency` at once: a slow store holds back the
    // encoders instead of letting encoded pictures pile up in memory. A stop lets the writes under
    // way finish (only retries are given up), so what was started ends up whole.
    const writes = new Set<Promise<void>>();
    const write = (name: string, data: Buffer): Promise<void> => {
      const p = withRetries(() => store.write(name, data, { contentType: 'image/jpeg' }), { signal }).then(
        () => {
          bytes += data.length;
          done++;
          options.onProgress?.({ done, total: end - first });
        },
        (err) => {
          failure ??= signal.aborted ? signal.reason : new JobError(`Cannot write "${name}" to ${store.location}: ${(err as Error).message}`, (err as { code?: string }).code, { cause: err });
        },
      );
      writes.add(p);
      void p.finally(() => writes.delete(p));
      return p;
    };

    // A fixed set of lanes pulls the next index, so memory stays bounded: `concurrency` pictures
    // encoding in the thread pool plus one being painted on this thread, and the uploads in flight.
    // Each lane paints into its own canvas, reused from one picture to the next (sharp has finished
    // reading it by then). The first failure stops the lanes from starting more pictures.
    const lane = async (): Promise<void> => {
      const canvas = Buffer.allocUnsafe(o.width * o.height * 3);
      while (next < end && failure === undefined) {
        try {
          signal.throwIfAborted();
          const { name, data } = await encode(next++, canvas);
          while (writes.size >= o.ioConcurrency) await Promise.race(writes);
          if (failure === undefined) void write(name, data);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    const canvasBytes = o.width * o.height * 3;
    const lanes = end === first ? 0 : Math.max(1, Math.min(o.concurrency + 1, end - first, Math.floor(CANVAS_BUDGET / canvasBytes)));
    // Every lane and upload settles before this returns or throws, so nothing is written after it.
    await Promise.all(Array.from({ length: lanes }, lane));
    await Promise.all(writes);
    if (failure !== undefined) throw options.signal?.aborted ? options.signal.reason : failure;
  } finally {
    job.release();
    await store.close?.();
  }
  return resultFor(o, first, end, bytes, (performance.now() - started) / 1000);
}

/** Names are listed only when asked for, so a million-image run does not hold a million strings. */
function resultFor(o: ResolvedGenerateOptions, first: number, end: number, bytes: number, seconds: number): GenerateResult {
  const images = Math.max(0, Math.min(end, o.count) - first);
  const broken = Math.max(0, end - Math.max(first, o.count));
  const firstImage = first + 1;
  const firstBroken = Math.max(first, o.count) - o.count + 1;
  return {
    images,
    broken,
    bytes,
    seconds,
    get files() {
      return Array.from({ length: images }, (_, i) => imageName(firstImage + i));
    },
    get corrupt() {
      return Array.from({ length: broken }, (_, i) => brokenName(firstBroken + i).name);
    },
  };
}
