import type { Sharp } from 'sharp';
import type { ConversionSpec, Preset } from '../interfaces.js';
import sharp from 'sharp';
import { encodePngFast } from './png-fast.js';
import { loadPixpng } from './pixpng.js';

/**
 * PNG settings per preset, chosen from `npm run bench` measurements (README, "Performance").
 * Photographs need a row filter: without one (libvips' default) outputs are about twice Pillow's.
 *
 * `fast` and `balanced` use pixbatch's own encoder (native/pixpng.c) at `pixpngLevel` when it was
 * built at install: the same adaptive row filter as libpng, then a deflate that stops looking for
 * repeats where there are none (a photograph's noise) and codes those stretches byte by byte.
 * Level 1 goes further: when a sample of the image shows that string matching saves under 12%,
 * it codes the whole image byte by byte. End to end, per core, `npm run bench` measured level 1
 * at 7.9-18.8x Pillow for files 9-24% larger (13.5x on real photographs), level 3 at 5.7-17x
 * Pillow for files 1-8% larger (README, "Performance").
 *
 * Without the native encoder (no compiler at install), they fall back to libpng with zlib-ng at
 * `compressionLevel`, or fdeflate (@napi-rs/image) where two sample strips show its output within
 * `fdeflateWithin` of libpng's: fdeflate is fast and close to zlib on photographs, but can be
 * twice as large on pictures with repeated texture, where string matching pays.
 */
export const PNG_PRESETS: Record<Preset, { compressionLevel: number; adaptiveFiltering: boolean; pixpngLevel?: number; fdeflateWithin?: number }> = {
  fast: { compressionLevel: 2, adaptiveFiltering: true, pixpngLevel: 1, fdeflateWithin: 1.25 },
  balanced: { compressionLevel: 3, adaptiveFiltering: true, pixpngLevel: 3, fdeflateWithin: 1.06 },
  small: { compressionLevel: 6, adaptiveFiltering: true },
};

/** The largest filtered PNG stream (rows plus their filter bytes) pixpng takes; larger images go to libpng. */
const PIXPNG_MAX_STREAM = 0x7f000000;

/** Which encoder wrote a PNG. */
export type PngEncoder = 'pixpng' | 'fdeflate' | 'libpng';

const EFFORT: Record<Preset, { webp: number; avif: number; jpegMozjpeg: boolean }> = {
  fast: { webp: 0, avif: 0, jpegMozjpeg: false },
  balanced: { webp: 4, avif: 4, jpegMozjpeg: false },
  small: { webp: 6, avif: 7, jpegMozjpeg: true },
};

export interface EncodedImage {
  data: Buffer;
  info: { width: number; height: number; format: string; channels: number };
}

/** Sets sharp's own encoder on a pipeline for the spec's format and preset (libpng for PNG). */
export function encode(img: Sharp, spec: ConversionSpec): Sharp {
  const effort = EFFORT[spec.preset];
  switch (spec.to) {
    case 'png': {
      const p = PNG_PRESETS[spec.preset];
      return img.png({
        compressionLevel: spec.pngCompression ?? p.compressionLevel,
        adaptiveFiltering: p.adaptiveFiltering,
        palette: false,
      });
    }
    case 'jpeg':
      return img.jpeg({ quality: spec.quality ?? 85, mozjpeg: effort.jpegMozjpeg });
    case 'webp':
      return img.webp({ quality: spec.quality ?? 80, effort: effort.webp });
    case 'avif':
      return img.avif({ quality: spec.quality ?? 50, effort: effort.avif });
    case 'tiff':
      return img.tiff({ quality: spec.quality ?? 80, compression: spec.quality !== undefined ? 'jpeg' : 'lzw' });
  }
}

/** True when the spec's PNG output may go through pixbatch's own encoder or fdeflate rather than libpng. */
export function usesFastPng(spec: ConversionSpec): boolean {
  // Metadata is written by libvips' savers only, and an explicit zlib level asks for libpng.
  const p = PNG_PRESETS[spec.preset];
  return spec.to === 'png' && (p.pixpngLevel !== undefined || p.fdeflateWithin !== undefined) && spec.pngCompression === undefined && !spec.keepMetadata;
}

export interface RawPngOptions {
  /** Use the native encoder when it is built (default true); false takes the fallback path. */
  native?: boolean;
  /**
   * Free `raw` as soon as the native encoder is done with it (default false): the Buffer is left
   * empty. A decoded photograph is tens of megabytes that would otherwise wait for the next
   * garbage collection.
   */
  consume?: boolean;
}

function libpng(raw: Buffer, width: number, height: number, channels: 3 | 4, preset: Preset): Promise<Buffer> {
  const p = PNG_PRESETS[preset];
  return sharp(raw, { raw: { width, height, channels } })
    .png({ compressionLevel: p.compressionLevel, adaptiveFiltering: p.adaptiveFiltering, palette: false })
    .toBuffer();
}

/**
 * Encodes decoded 8-bit pixels for the preset: with the native encoder when it is built (any of
 * 1-4 channels); otherwise, for RGB/RGBA, with fdeflate when, on two strips of rows (a third and
 * two thirds down), its output is within the preset's margin of libpng's, else with libpng.
 * Returns undefined when neither fast encoder can take the layout (the caller uses libpng).
 */
export async function encodeRawPng(
  raw: Buffer,
  width: number,
  height: number,
  channels: number,
  preset: Preset,
  options: RawPngOptions = {},
): Promise<{ data: Buffer; encoder: PngEncoder } | undefined> {
  if (raw.length !== width * height * channels) return undefined;
  const level = PNG_PRESETS[preset].pixpngLevel;
  // pixpng writes one IDAT chunk (at most 2^31 - 1 bytes), so it takes filtered streams up to PIXPNG_MAX_STREAM.
  const stream = (width * channels + 1) * height;
  if (level !== undefined && options.native !== false && channels >= 1 && channels <= 4 && stream <= PIXPNG_MAX_STREAM) {
    const pixpng = loadPixpng();
    if (pixpng) return { data: await pixpng.encode(raw, width, height, channels as 1 | 2 | 3 | 4, level, options.consume ?? false), encoder: 'pixpng' };
  }
  const within = PNG_PRESETS[preset].fdeflateWithin;
  if (within === undefined || (channels !== 3 && channels !== 4)) return undefined;
  const stride = width * channels;
  const rows = Math.min(32, Math.max(8, Math.round(height / 96)));
  if (height < rows * 4) {
    // Small enough to encode whole both ways and keep the better one.
    const [fast, zlib] = await Promise.all([encodePngFast(raw, width, height, channels), libpng(raw, width, height, channels, preset)]);
    if (!fast) return undefined;
    return fast.length <= within * zlib.length ? { data: fast, encoder: 'fdeflate' } : { data: zlib, encoder: 'libpng' };
  }
  let fastBytes = 0;
  let zlibBytes = 0;
  for (const start of [Math.floor(height / 3), Math.floor((2 * height) / 3)]) {
    const strip = raw.subarray(start * stride, (start + rows) * stride);
    const fast = await encodePngFast(strip, width, rows, channels);
    if (!fast) return undefined;
    fastBytes += fast.length;
    zlibBytes += (await libpng(strip, width, rows, channels, preset)).length;
  }
  if (fastBytes <= within * zlibBytes) {
    const data = await encodePngFast(raw, width, height, channels);
    if (data) return { data, encoder: 'fdeflate' };
  }
  return { data: await libpng(raw, width, height, channels, preset), encoder: 'libpng' };
}

/**
 * Runs the pipeline and encodes its output for the spec: sharp's encoders, or for the `fast` and
 * `balanced` PNG presets sharp's decode followed by pixbatch's own encoder (or, without it,
 * fdeflate or libpng, whichever the image suits; see PNG_PRESETS). Pixels, colour type and bit
 * depth are the same either way.
 *
 * @example
 * const { data, info } = await encodeToBuffer(sharp(input).rotate(), { to: 'png', preset: 'fast', keepMetadata: false });
 */
export async function encodeToBuffer(img: Sharp, spec: ConversionSpec): Promise<EncodedImage> {
  if (usesFastPng(spec)) {
    const meta = await img.metadata();
    // Grey sources stay grey in the output, which fdeflate cannot write (the native encoder can).
    // Grey+alpha is left to libpng: sharp's raw output of a grey pipeline drops the alpha.
    const nativeLevel = PNG_PRESETS[spec.preset].pixpngLevel;
    const channels = meta.channels ?? 0;
    const grey = channels <= 2;
    if (meta.depth === 'uchar' && (!grey || (nativeLevel !== undefined && !meta.hasAlpha && loadPixpng()))) {
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      // The layout the PNG must have: what libpng would write for this source.
      const expected = grey ? 1 : meta.hasAlpha ? 4 : 3;
      const png = info.channels === expected ? await encodeRawPng(data, info.width, info.height, info.channels, spec.preset, { consume: true }) : undefined;
      if (png) return { data: png.data, info: { width: info.width, height: info.height, format: 'png', channels: info.channels } };
      // Any other layout: the same pipeline again, through libpng (sharp keeps the input buffer).
    }
  }
  return finish(encode(img, spec));
}

async function finish(img: Sharp): Promise<EncodedImage> {
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  return { data, info: { width: info.width, height: info.height, format: info.format, channels: info.channels } };
}
