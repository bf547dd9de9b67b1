import type { Sharp } from 'sharp';
import type { ConversionSpec, Preset } from '../interfaces.js';

/** zlib level and filtering per preset for PNG; lossy formats take quality/effort from the preset. */
const PNG_PRESETS: Record<Preset, { compressionLevel: number; adaptiveFiltering: boolean }> = {
  fast: { compressionLevel: 1, adaptiveFiltering: false },
  balanced: { compressionLevel: 6, adaptiveFiltering: false },
  small: { compressionLevel: 9, adaptiveFiltering: true },
};

const EFFORT: Record<Preset, { webp: number; avif: number; jpegMozjpeg: boolean }> = {
  fast: { webp: 0, avif: 0, jpegMozjpeg: false },
  balanced: { webp: 4, avif: 4, jpegMozjpeg: false },
  small: { webp: 6, avif: 7, jpegMozjpeg: true },
};

/** Sets the output encoder on a sharp pipeline for the spec's format and preset. */
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
