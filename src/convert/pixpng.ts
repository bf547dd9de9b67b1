// pixbatch's own PNG encoder (native/pixpng.c), built at install time into build/Release/pixpng.node
// when a C compiler is there. It is optional: when the file is missing or does not load, callers
// encode with libpng, and `pixpngStatus()` says why.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's JavaScript interface. */
export interface PixpngBinding {
  /**
   * Encodes 8-bit pixels (`width * height * channels` bytes, rows top to bottom) as a complete PNG:
   * grey, grey+alpha, RGB or RGBA by `channels`; `level` 1 (fastest) to 9 (smallest). With
   * `consume`, the pixels' memory is freed as soon as the encoding ends (see `release`).
   * Throws TypeError synchronously on bad arguments.
   */
  encode(pixels: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4, level: number, consume?: boolean): Promise<Buffer>;
  /**
   * Frees a Buffer's memory now rather than when it is garbage-collected, by detaching its
   * ArrayBuffer: the Buffer is left with length 0. Only a Buffer that spans its whole ArrayBuffer is
   * freed (not a slice of Node's shared pool); returns whether it was.
   */
  release(buffer: Buffer): boolean;
  /** Tunes glibc's allocator for bulk conversion when the process is young enough; says what it did. */
  tuneAllocator(poolThreadsNamed?: boolean): string;
}

export interface PixpngStatus {
  loaded: boolean;
  /** Where the addon was looked for (or loaded from). */
  path?: string;
  /** Why it is not used, when it is not. */
  reason?: string;
  /** How the process's memory allocator is set, once `tuneAllocator()` has run. */
  allocator?: string;
}

/** The addon's place below the package root, in a checkout, an installed package and the Batch bundle alike. */
export const PIXPNG_RELATIVE_PATH = 'build/Release/pixpng.node';

let state: { binding?: PixpngBinding; status: PixpngStatus } | undefined;

/**
 * The package root: the nearest folder above this module holding package.json. That is two levels
 * up from src/convert/pixpng.ts and dist/convert/pixpng.js, one up from the Batch bundle's
 * app/pixbatch.mjs (everything is bundled into that one file).
 */
function packageRoot(): string | undefined {
  for (const up of ['../', '../../']) {
    const url = new URL(up, import.meta.url);
    if (existsSync(new URL('package.json', url))) return fileURLToPath(url);
  }
  return undefined;
}

function load(): { binding?: PixpngBinding; status: PixpngStatus } {
  if (process.env.PIXBATCH_NATIVE === '0') return { status: { loaded: false, reason: 'turned off by PIXBATCH_NATIVE=0' } };
  const root = packageRoot();
  if (!root) return { status: { loaded: false, reason: 'package root not found' } };
  const path = join(root, PIXPNG_RELATIVE_PATH);
  if (!existsSync(path)) {
    // scripts/build-native.mjs leaves the compiler's output here when the install's build failed.
    const log = join(root, 'build', 'pixpng-build.log');
    const why = existsSync(log) ? `the install's build failed, see ${log}` : 'needs a C compiler, python3 and make at install time';
    return { status: { loaded: false, path, reason: `not built (${why})` } };
  }
  try {
    const binding = createRequire(import.meta.url)(path) as Partial<PixpngBinding>;
    if (typeof binding.encode !== 'function') return { status: { loaded: false, path, reason: 'the addon has no encode function' } };
    return { binding: binding as PixpngBinding, status: { loaded: true, path } };
  } catch (err) {
    return { status: { loaded: false, path, reason: `failed to load: ${(err as Error).message.split('\n')[0]}` } };
  }
}

/**
 * The native encoder, loaded once on first use, or undefined when it is not built, does not load,
 * or `PIXBATCH_NATIVE=0` turns it off.
 *
 * @example
 * const pixpng = loadPixpng();
 * const png = pixpng ? await pixpng.encode(raw, 640, 480, 3, 6) : await sharp(raw, { raw }).png().toBuffer();
 */
export function loadPixpng(): PixpngBinding | undefined {
  state ??= load();
  return state.binding;
}

// libuv names its pool threads "libuv-worker" from 1.51 (Node 22.23 has it, Node 20 does not), so
// the addon can tell from the threads' names whether the pool has started.
function poolThreadsNamed(): boolean {
  const [major = 0, minor = 0] = (process.versions.uv ?? '').split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 51);
}

/**
 * Lets the C allocator reuse the megabytes each image's pixels and PNG take, from one image to the
 * next, instead of mapping them fresh (and having the kernel zero them) every time: about 10% less
 * CPU on camera photographs for 50-70 MiB more peak memory (native/pixpng.c, `tune_allocator`). It
 * only acts on glibc, when the allocator is not set from the environment, and before the process
 * has started its thread pools, so the command's entry point calls it first thing; a library's
 * program imports it alone from 'pixbatch/allocator' (all of 'pixbatch' loaded first is too late).
 * Returns what it did, or undefined without the native encoder.
 */
export function tuneAllocator(): string | undefined {
  const binding = loadPixpng();
  if (!binding || typeof binding.tuneAllocator !== 'function') return undefined;
  state!.status.allocator = binding.tuneAllocator(poolThreadsNamed());
  return state!.status.allocator;
}

/**
 * Frees a Buffer that nothing will read again (a PNG once written) now rather than at the next
 * garbage collection, which can leave tens of megabytes of finished images in memory. The Buffer
 * is left empty. Returns false, changing nothing, without the native encoder or for a Buffer that
 * shares its memory.
 */
export function releaseBuffer(buffer: Buffer): boolean {
  return state?.binding?.release?.(buffer) ?? false;
}

/** Whether the native encoder is used, from where, and if not, why. Loads it if that was not tried yet. */
export function pixpngStatus(): PixpngStatus {
  state ??= load();
  return { ...state.status };
}

/**
 * Encodes raw 8-bit pixels (as sharp's `.raw()` gives them) as a PNG with the native encoder; with
 * `consume`, frees the pixels once encoded (the Buffer is left empty). Throws TypeError
 * synchronously on bad arguments, as the addon does; rejects when the encoder is unavailable (check
 * `loadPixpng()` first to fall back).
 *
 * @example
 * const { data, info } = await sharp('a.jpg').raw().toBuffer({ resolveWithObject: true });
 * const png = await encodePixpng(data, info.width, info.height, info.channels, 6);
 */
export function encodePixpng(pixels: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4, level: number, consume = false): Promise<Buffer> {
  const binding = loadPixpng();
  if (!binding) return Promise.reject(new Error(`The native PNG encoder is unavailable: ${state?.status.reason ?? 'not loaded'}`));
  return binding.encode(pixels, width, height, channels, level, consume);
}
