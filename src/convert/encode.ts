import type { Sharp } from 'sharp';
import type { ConversionSpec, Preset } from '../interfaces.js';
import sharp from 'sharp';
import { encodePngFast } from './png-fast.js';

/**
 * PNG settings per preset, chosen from `npm run bench` measurements (README, "Performance").
 * Photographs need a row filter: without one (libvips' default) outputs are about twice Pillow's.
 * libpng's adaptive filtering with zlib-ng level 3 gives Pillow's size at a fraction of its time.
 * The fdeflate encoder is several times faster again and, on photographs (sensor noise, no
 * repeats), within a few per cent of zlib's size; on pictures with repeated texture or flat
 * areas, where zlib's string matching pays, its output can be twice as large. So `fast` and
 * `balanced` try both on two strips of the image and keep fdeflate only when its strips are
 * within `fdeflateWithin` of libpng's.
 */
export const PNG_PRESETS: Record<Preset, { compressionLevel: number; adaptiveFiltering: boolean; fdeflateWithin?: number }> = {
  fast: { compressionLevel: 2, adaptiveFiltering: true, fdeflateWithin: 1.25 },
  balanced: { compressionLevel: 3, adaptiveFiltering: true, fdeflateWithin: 1.06 },
  small: { compressionLevel: 6, adaptiveFiltering: true },
};

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

/** True when the spec's PNG output may go through the fdeflate encoder rather than libpng. */
export function usesFastPng(spec: ConversionSpec): boolean {
  // Metadata is written by libvips' savers only, and an explicit zlib level asks for libpng.
  return spec.to === 'png' && PNG_PRESETS[spec.preset].fdeflateWithin !== undefined && spec.pngCompression === undefined && !spec.keepMetadata;
}

function libpng(raw: Buffer, width: number, height: number, channels: 3 | 4, preset: Preset): Promise<Buffer> {
  const p = PNG_PRESETS[preset];
  return sharp(raw, { raw: { width, height, channels } })
    .png({ compressionLevel: p.compressionLevel, adaptiveFiltering: p.adaptiveFiltering, palette: false })
    .toBuffer();
}

/**
 * Encodes decoded 8-bit RGB/RGBA pixels with fdeflate when, on two strips of rows (a third and
 * two thirds down), its output is within the preset's margin of libpng's; otherwise with libpng.
 * Returns undefined when fdeflate cannot take the layout.
 */
export async function encodeRawPng(raw: Buffer, width: number, height: number, channels: number, preset: Preset): Promise<{ data: Buffer; encoder: 'fdeflate' | 'libpng' } | undefined> {
  const within = PNG_PRESETS[preset].fdeflateWithin;
  if (within === undefined || (channels !== 3 && channels !== 4) || raw.length !== width * height * channels) return undefined;
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
 * `balanced` PNG presets sharp's decode followed by fdeflate or libpng, whichever the image suits
 * (see PNG_PRESETS). Pixels, colour type and bit depth are the same either way.
 *
 * @example
 * const { data, info } = await encodeToBuffer(sharp(input).rotate(), { to: 'png', preset: 'fast', keepMetadata: false });
 */
export async function encodeToBuffer(img: Sharp, spec: ConversionSpec): Promise<EncodedImage> {
  if (usesFastPng(spec)) {
    const meta = await img.metadata();
    // Grey sources stay grey in the output, which the fast encoder cannot write.
    if (meta.depth === 'uchar' && (meta.channels ?? 0) >= 3) {
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      const png = await encodeRawPng(data, info.width, info.height, info.channels, spec.preset);
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
