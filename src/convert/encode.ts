import type { Sharp } from 'sharp';
import type { ConversionSpec, Preset } from '../interfaces.js';
import { encodePngFast } from './png-fast.js';

/**
 * PNG settings per preset, chosen from `npm run bench` measurements (README, "Performance").
 * Photographs need a row filter: without one (libvips' default) outputs are about twice Pillow's.
 * libpng's adaptive filtering plus zlib-ng level 3 gives Pillow's size at a fraction of its time;
 * `fast` uses the fdeflate encoder, with libpng level 2 where that encoder cannot keep the layout.
 */
export const PNG_PRESETS: Record<Preset, { encoder: 'libpng' | 'fdeflate'; compressionLevel: number; adaptiveFiltering: boolean }> = {
  fast: { encoder: 'fdeflate', compressionLevel: 2, adaptiveFiltering: true },
  balanced: { encoder: 'libpng', compressionLevel: 3, adaptiveFiltering: true },
  small: { encoder: 'libpng', compressionLevel: 9, adaptiveFiltering: true },
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

/** True when the spec's output goes through the fast PNG encoder rather than sharp's. */
export function usesFastPng(spec: ConversionSpec): boolean {
  // Metadata is written by libvips' savers only, and an explicit zlib level asks for libpng.
  return spec.to === 'png' && PNG_PRESETS[spec.preset].encoder === 'fdeflate' && spec.pngCompression === undefined && !spec.keepMetadata;
}

/**
 * Runs the pipeline and encodes its output for the spec: sharp's encoders, or for the fast PNG
 * preset sharp's decode followed by the fdeflate encoder. Pixels, colour type and bit depth are
 * the same either way.
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
      const png = await encodePngFast(data, info.width, info.height, info.channels);
      if (png) return { data: png, info: { width: info.width, height: info.height, format: 'png', channels: info.channels } };
      // Any other layout: the same pipeline again, through libpng (sharp keeps the input buffer).
    }
  }
  return finish(encode(img, spec));
}

async function finish(img: Sharp): Promise<EncodedImage> {
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  return { data, info: { width: info.width, height: info.height, format: info.format, channels: info.channels } };
}
