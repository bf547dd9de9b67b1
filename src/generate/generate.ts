// `pixbatch generate` and `generate()`: deterministic photo-like JPEGs for demos, tests and
// benchmarks. Pixels are painted from a seeded PRNG and encoded by sharp, so the same options
// always write the same bytes, whatever the concurrency or the machine's fonts.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { invalidOption, JobError, UsageError } from '../errors.js';
import { parseSize } from '../options.js';
import { BROKEN_KINDS, brokenBytes, type BrokenKind } from './broken.js';
import { paintPicture } from './picture.js';
import { mixSeed, Random } from './random.js';

/** Sub-folders images are spread over, round robin, so a recursive walk has something to walk. */
export const GENERATE_FOLDERS = 4;
export const DEFAULT_GENERATE_SIZE = { width: 800, height: 600 } as const;
export const DEFAULT_GENERATE_SEED = 1;
export const DEFAULT_GENERATE_QUALITY = 82;

/**
 * Options of `generate()` and `pixbatch generate`. Strings are accepted where the CLI passes strings.
 *
 * @example
 * import { generate } from 'pixbatch';
 * const { files, corrupt } = await generate({ destination: 'photos', count: 100, seed: 7, corrupt: 3 });
 * // files: ['set-01/img-00001.jpg', 'set-02/img-00002.jpg', ...], corrupt: ['set-01/bad-00001-truncated.jpg', ...]
 */
export interface GenerateOptions {
  /** Folder to write into; created when missing. Existing files with the same names are replaced. */
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
  /** Called after each file is written. */
  onProgress?: (progress: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** Good images, relative to the destination with `/` separators, in index order. */
  files: string[];
  /** Broken files, relative to the destination, in index order. */
  corrupt: string[];
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
    throw invalidOption('destination', 'a folder path', o.destination);
  }
  if (o.count === undefined || o.count === null || o.count === '') {
    throw invalidOption('count', 'integer between 0 and 1000000', o.count);
  }
  const size = parseSize('size', o.size) ?? DEFAULT_GENERATE_SIZE;
  const { width, height } = size;
  if (width === undefined || height === undefined || width < 16 || height < 16 || width > 10_000 || height > 10_000) {
    throw invalidOption('size', 'size as WxH with each side between 16 and 10000', o.size);
  }
  return {
    destination: o.destination,
    count: integer('count', o.count, 0, 1_000_000, 0),
    width,
    height,
    seed: integer('seed', o.seed, 0, 0xffffffff, DEFAULT_GENERATE_SEED),
    corrupt: integer('corrupt', o.corrupt, 0, 100_000, 0),
    quality: integer('quality', o.quality, 1, 100, DEFAULT_GENERATE_QUALITY),
    concurrency: integer('concurrency', o.concurrency, 1, 1024, availableParallelism()),
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

/** Writes under a temporary name, then renames, so an interrupted run leaves no half-written image. */
async function writeAtomically(path: string, data: Buffer): Promise<void> {
  const temp = join(dirname(path), `.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Creates the destination and the sub-folders `files` files will use. */
async function prepareDestination(destination: string, files: number): Promise<void> {
  const existing = await stat(destination).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new UsageError(`Expected a folder for destination but "${destination}" is a file`);
  }
  try {
    await mkdir(destination, { recursive: true });
    for (let f = 1; f <= Math.min(files, GENERATE_FOLDERS); f++) await mkdir(join(destination, folderFor(f)), { recursive: true });
  } catch (err) {
    throw new JobError(`Cannot create folders in "${destination}": ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, { cause: err });
  }
}

/**
 * Writes `count` deterministic photo-like JPEGs named `set-NN/img-NNNNN.jpg` (spread over
 * four sub-folders), plus `corrupt` broken files named `set-NN/bad-NNNNN-KIND.jpg`.
 *
 * @example
 * const { files } = await generate({ destination: 'demo/in', count: 200, size: '800x600', seed: 1 });
 */
export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const o = resolveGenerateOptions(options);
  const started = performance.now();
  await prepareDestination(o.destination, Math.max(o.count, o.corrupt));
  const total = o.count + o.corrupt;
  const files = Array.from({ length: o.count }, (_, i) => imageName(i + 1));
  const corrupt = Array.from({ length: o.corrupt }, (_, i) => brokenName(i + 1).name);
  let next = 0;
  let done = 0;
  let bytes = 0;

  const makeOne = async (job: number, canvas: Buffer): Promise<void> => {
    let name: string;
    let data: Buffer;
    if (job < o.count) {
      const index = job + 1;
      name = files[job]!;
      data = await encodePicture(o, new Random(mixSeed(o.seed, index)), `#${String(index).padStart(5, '0')}`, index, canvas);
    } else {
      const index = job - o.count + 1;
      const broken = brokenName(index);
      name = broken.name;
      const rng = new Random(mixSeed(o.seed ^ BROKEN_STREAM, index));
      const jpeg = broken.kind === 'truncated' ? await encodePicture(o, rng, `#${String(index).padStart(5, '0')}`, index, canvas) : Buffer.alloc(0);
      data = brokenBytes(broken.kind, jpeg, rng);
    }
    try {
      await writeAtomically(join(o.destination, name), data);
    } catch (err) {
      throw new JobError(`Cannot write "${join(o.destination, name)}": ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, { cause: err });
    }
    bytes += data.length;
    done++;
    options.onProgress?.({ done, total });
  };

  // A fixed set of lanes pulls the next index, so memory stays bounded: `concurrency` pictures
  // encoding in the thread pool plus one being painted on this thread. Each lane paints into its
  // own canvas, reused from one picture to the next (sharp has finished reading it by then).
  // The first failure stops the other lanes from starting more pictures.
  let failed = false;
  const lane = async (): Promise<void> => {
    const canvas = Buffer.allocUnsafe(o.width * o.height * 3);
    while (next < total && !failed) {
      try {
        options.signal?.throwIfAborted();
        await makeOne(next++, canvas);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const canvasBytes = o.width * o.height * 3;
  const lanes = total === 0 ? 0 : Math.max(1, Math.min(o.concurrency + 1, total, Math.floor(CANVAS_BUDGET / canvasBytes)));
  // Every lane settles before this returns or throws, so nothing is written after it.
  const settled = await Promise.allSettled(Array.from({ length: lanes }, lane));
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return { files, corrupt, bytes, seconds: (performance.now() - started) / 1000 };
}
