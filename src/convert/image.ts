import sharp, { type Metadata } from 'sharp';
import type { ConversionSpec, FailureCode } from '../interfaces.js';
import { applyWatermark } from './watermark.js';
import { encodeToBuffer } from './encode.js';
import { loadPixpng } from './pixpng.js';
import { describesSrgb } from './icc.js';
import { readsHevc } from './input-formats.js';

/** A per-image failure with a stable code; the job goes on. */
export class ImageError extends Error {
  override name = 'ImageError';
  constructor(readonly code: FailureCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ConvertedImage {
  data: Buffer;
  width: number;
  height: number;
  format: string;
}

/**
 * Converts one encoded image to the spec's format. The header is read first so a decompression bomb
 * is refused before any pixel is decoded.
 *
 * @example
 * const { data } = await convertImage(await readFile('a.jpg'), { to: 'png', preset: 'balanced', keepMetadata: false }, { maxPixels: 1e8 });
 */
export async function convertImage(input: Buffer, spec: ConversionSpec, opts: { maxPixels: number }): Promise<ConvertedImage> {
  // Loading the native addon also sets glibc's mmap threshold (native/pixpng.c), which keeps peak
  // memory down for every format and preset, not only the PNG presets that encode with it. (The
  // command goes further, at its start: see tuneAllocator.)
  loadPixpng();
  if (input.length === 0) throw new ImageError('EMPTY_FILE', 'file is empty (0 bytes)');
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw classify(err, 'header');
  }
  const { width, height } = meta;
  if (!width || !height) throw new ImageError('CORRUPT_IMAGE', `image header has no size (format ${meta.format ?? 'unknown'})`);
  if (meta.format === 'heif' && meta.compression === 'hevc' && !readsHevc()) {
    throw new ImageError(
      'UNSUPPORTED_FORMAT',
      'HEIC image (HEVC compression), which this build of sharp cannot decode: its prebuilt libvips reads AVIF only; HEIC needs sharp built against a libvips with libde265',
    );
  }
  // An animation is kept where the output can hold one (WebP) and no watermark is drawn (the
  // watermark is composed on a still image); otherwise its first frame is converted.
  const frames = meta.pages ?? 1;
  const animated = frames > 1 && spec.to === 'webp' && !spec.watermark;
  const pixels = width * height * (animated ? frames : 1);
  if (pixels > opts.maxPixels) {
    const what = animated ? `${width}x${height} in ${frames} frames` : `${width}x${height}`;
    throw new ImageError(
      'TOO_LARGE',
      `image is ${what} (${(pixels / 1e6).toFixed(1)} megapixels), over the limit of ${(opts.maxPixels / 1e6).toFixed(1)} megapixels; refused without decoding (raise --max-pixels to allow)`,
    );
  }
  try {
    // failOn 'error' lets a slightly-off but complete file through and stops at real damage (truncation).
    // An image tagged as sRGB is already in the colour space written, so its pixels are kept as
    // decoded rather than converted from sRGB to sRGB (see icc.ts); other profiles are converted.
    // Only 8-bit images: sharp takes 16-bit ones through a wider working space.
    const ignoreIcc = !spec.keepMetadata && meta.depth === 'uchar' && meta.icc !== undefined && describesSrgb(meta.icc);
    let img = sharp(input, { limitInputPixels: opts.maxPixels, failOn: 'error', sequentialRead: true, ignoreIcc, animated });
    img = img.rotate(); // applies EXIF orientation
    if (spec.resize) {
      img = img.resize({
        width: spec.resize.width,
        height: spec.resize.height,
        fit: spec.resize.fit,
        withoutEnlargement: spec.resize.fit === 'inside',
      });
    }
    // JPEG has no alpha channel: transparent pixels take the background colour rather than whatever
    // colour their fully transparent pixels happened to hold (often black).
    if (spec.background && meta.hasAlpha) img = img.flatten({ background: spec.background });
    img = img.toColourspace(meta.channels === 1 || meta.space === 'b-w' ? 'b-w' : 'srgb');
    if (spec.keepMetadata) img = img.keepMetadata();
    if (spec.watermark) img = await applyWatermark(img, spec.watermark);
    const { data, info } = await encodeToBuffer(img, spec);
    return { data, width: info.width, height: info.height, format: info.format };
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw classify(err, 'decode');
  }
}

function classify(err: unknown, stage: 'header' | 'decode'): ImageError {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
  if (/unsupported image format|Input buffer contains unsupported/i.test(message)) {
    return new ImageError('NOT_AN_IMAGE', 'not an image: the contents are not in any format pixbatch can read', { cause: err });
  }
  if (/compression format has not been built in|unsupported codec/i.test(String(err))) {
    return new ImageError('UNSUPPORTED_FORMAT', 'the image uses a compression this build of sharp cannot decode', { cause: err });
  }
  if (/pixel limit/i.test(message)) return new ImageError('TOO_LARGE', message, { cause: err });
  return new ImageError('CORRUPT_IMAGE', `${stage === 'header' ? 'unreadable header' : 'damaged image data'}: ${message}`, { cause: err });
}
