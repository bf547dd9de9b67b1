import sharp from 'sharp';
import type { InputFormat } from '../interfaces.js';

/**
 * Name suffixes each `--from` format selects. `jpeg` is exactly the selection pixbatch has always
 * made by default (.jpg and .jpeg in any case); `heif` takes the names phones give HEIC photos.
 */
const SUFFIXES: Record<Exclude<InputFormat, 'any'>, readonly string[]> = {
  jpeg: ['jpg', 'jpeg'],
  png: ['png'],
  webp: ['webp'],
  tiff: ['tif', 'tiff'],
  gif: ['gif'],
  avif: ['avif'],
  heif: ['heic', 'heif', 'hif'],
};

/**
 * True when the installed sharp decodes HEVC, the compression of HEIC photos from phones. sharp's
 * prebuilt libvips ships libheif with AV1 only (HEVC is patent-encumbered), and libvips then lists
 * `.avif` alone among heifload's suffixes; a libvips built with libde265 lists `.heic` too.
 */
export function readsHevc(): boolean {
  return sharp.format.heif?.input.fileSuffix?.includes('.heic') ?? false;
}

/**
 * Every suffix the installed sharp reads from memory (pixbatch reads each image into a buffer), as
 * `sharp.format` reports it: for the prebuilt binaries jpg, jpeg, jpe, jfif, png, webp, tif, tiff,
 * gif, svg, svgz, svg.gz and avif.
 */
export function readableSuffixes(): string[] {
  const out = new Set<string>();
  for (const format of Object.values(sharp.format)) {
    if (!format.input.buffer) continue;
    for (const suffix of format.input.fileSuffix ?? []) out.add(suffix.replace(/^\./, '').toLowerCase());
  }
  return [...out];
}

/** The suffixes a list of `--from` formats selects, without repeats. */
export function suffixesFor(formats: readonly InputFormat[]): string[] {
  const out = new Set<string>();
  for (const f of formats) for (const s of f === 'any' ? readableSuffixes() : SUFFIXES[f]) out.add(s);
  return [...out];
}

/** One glob for names with any of these suffixes, in any folder: `**\/*.png`, `**\/*.{jpg,jpeg}`. */
export function globForSuffixes(suffixes: readonly string[]): string {
  // A brace list of one is taken literally by picomatch, so one suffix goes without braces.
  return suffixes.length === 1 ? `**/*.${suffixes[0]}` : `**/*.{${suffixes.join(',')}}`;
}
