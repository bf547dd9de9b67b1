import { defaultConcurrency } from './concurrency.js';
import { invalidOption, UsageError } from './errors.js';
import type {
  ConversionSpec,
  Fit,
  OutputFormat,
  OverwritePolicy,
  Preset,
  ProgressEvent,
  Store,
  WatermarkPosition,
  ImageRecord,
} from './interfaces.js';
import type { EmailSettings } from './report/email.js';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp', 'avif', 'tiff'];
export const PRESETS: readonly Preset[] = ['fast', 'balanced', 'small'];
export const FITS: readonly Fit[] = ['cover', 'contain', 'inside'];
export const OVERWRITE_POLICIES: readonly OverwritePolicy[] = ['if-newer', 'always', 'never'];
export const WATERMARK_POSITIONS: readonly WatermarkPosition[] = ['center', 'top-left', 'top-right', 'bottom-left', 'bottom-right'];
/** Globs are matched case-insensitively, so this takes .JPG and .Jpeg too. */
export const DEFAULT_INCLUDE = ['**/*.{jpg,jpeg}'];
/** Largest image accepted, in pixels (width x height): 100 megapixels unless `maxPixels` says otherwise. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * Options of `convert()` and `pixbatch convert`. Strings are accepted where the CLI passes strings.
 *
 * @example
 * import { convert } from 'pixbatch';
 * const summary = await convert({ source: 'photos', destination: 'png', to: 'png', preset: 'fast' });
 * console.log(summary.counts);
 */
export interface ConvertOptions {
  /** A folder, `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`, `az://CONTAINER/PREFIX`, or a Store. */
  source: string | Store;
  destination: string | Store;
  to?: OutputFormat | string;
  quality?: number | string;
  pngCompression?: number | string;
  preset?: Preset | string;
  /** `WxH`, `W` or `xH`, or an object. */
  resize?: string | { width?: number; height?: number };
  fit?: Fit | string;
  watermark?: string;
  watermarkPosition?: WatermarkPosition | string;
  /** 0-1. */
  watermarkOpacity?: number | string;
  keepMetadata?: boolean;
  /** Globs matched against names relative to the source (default: .jpg/.jpeg in any case). */
  include?: string[];
  exclude?: string[];
  overwrite?: OverwritePolicy | string;
  /** Images converting at once (default: cores). */
  concurrency?: number | string;
  /** Reads and writes in flight at once (default: 4 x concurrency, at least 8). */
  ioConcurrency?: number | string;
  /** Largest accepted image in pixels; bigger headers are refused before decoding. */
  maxPixels?: number | string;
  dryRun?: boolean;
  /** Writes the summary plus one record per image to this file. */
  report?: string;
  /** Writes a self-contained HTML report (summary, chart over time, failures) to this file. */
  htmlReport?: string;
  /**
   * Told when the job ends: an http(s) URL gets the summary POSTed (signed when PIXBATCH_WEBHOOK_SECRET is set),
   * `mailto:ADDRESS` gets a mail through Azure Communication Services Email (see `email`).
   */
  notify?: string | string[];
  /** Endpoint, sender and credential for `mailto:` targets; unset fields come from the environment. */
  email?: EmailSettings;
  /** Called after every image. */
  onProgress?: (event: ProgressEvent) => void;
  /** Called once per image with its record (for streaming reports). */
  onRecord?: (record: ImageRecord) => void;
  signal?: AbortSignal;
}

export interface ResolvedOptions {
  spec: ConversionSpec;
  include: string[];
  exclude: string[];
  overwrite: OverwritePolicy;
  concurrency: number;
  ioConcurrency: number;
  maxPixels: number;
  dryRun: boolean;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  const v = typeof value === 'string' ? value.toLowerCase() : value;
  if (name === 'to' && v === 'jpg') return 'jpeg' as T;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw invalidOption(name, `one of ${allowed.join(', ')}`, value);
}

function integer(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalidOption(name, `integer between ${min} and ${max}`, value);
  }
  return n;
}

function fraction(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw invalidOption(name, 'number between 0 and 1', value);
  }
  return n;
}

/** Parses `800x600`, `800x`, `800`, `x600`. */
export function parseSize(name: string, value: unknown): { width?: number; height?: number } | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'object') {
    const { width, height } = value as { width?: unknown; height?: unknown };
    const w = integer(`${name} width`, width, 1, 100_000);
    const h = integer(`${name} height`, height, 1, 100_000);
    if (w === undefined && h === undefined) throw invalidOption(name, 'size as WxH (for example 800x600)', value);
    return { width: w, height: h };
  }
  const m = typeof value === 'string' ? /^\s*(\d+)?\s*(?:[xX×]\s*(\d+)?)?\s*$/.exec(value) : null;
  if (!m || (m[1] === undefined && m[2] === undefined)) throw invalidOption(name, 'size as WxH (for example 800x600)', value);
  const width = m[1] === undefined ? undefined : Number(m[1]);
  const height = m[2] === undefined ? undefined : Number(m[2]);
  if (width === 0 || height === 0 || (width ?? 1) > 100_000 || (height ?? 1) > 100_000) {
    throw invalidOption(name, 'size as WxH with each side between 1 and 100000', value);
  }
  return { width, height };
}

/** Validates options at the boundary; throws a UsageError naming the option and what it accepts. */
export function resolveOptions(o: Omit<ConvertOptions, 'source' | 'destination'>): ResolvedOptions {
  const to = oneOf<OutputFormat>('to', o.to, OUTPUT_FORMATS, 'png');
  const preset = oneOf<Preset>('preset', o.preset, PRESETS, 'balanced');
  const quality = integer('quality', o.quality, 1, 100);
  const pngCompression = integer('png-compression', o.pngCompression, 0, 9);
  if (quality !== undefined && (to === 'png')) {
    // PNG is lossless: quality would silently do nothing, so say so.
    throw new UsageError('Expected --quality only with a lossy format (jpeg, webp, avif, tiff) but --to is png');
  }
  if (pngCompression !== undefined && to !== 'png') {
    throw new UsageError(`Expected --png-compression only with --to png but --to is ${to}`);
  }
  const size = parseSize('resize', o.resize);
  const fit = oneOf<Fit>('fit', o.fit, FITS, 'inside');
  let watermark: ConversionSpec['watermark'];
  if (o.watermark !== undefined && o.watermark !== '') {
    if (typeof o.watermark !== 'string') throw invalidOption('watermark', 'text', o.watermark);
    if (o.watermark.length > 200) throw invalidOption('watermark', 'text of at most 200 characters', `${o.watermark.slice(0, 20)}…`);
    watermark = {
      text: o.watermark,
      position: oneOf<WatermarkPosition>('watermark-position', o.watermarkPosition, WATERMARK_POSITIONS, 'bottom-right'),
      opacity: fraction('watermark-opacity', o.watermarkOpacity) ?? 0.5,
    };
  }
  const spec: ConversionSpec = {
    to,
    preset,
    keepMetadata: o.keepMetadata === true,
    ...(quality !== undefined ? { quality } : {}),
    ...(pngCompression !== undefined ? { pngCompression } : {}),
    ...(size ? { resize: { ...size, fit } } : {}),
    ...(watermark ? { watermark } : {}),
  };
  const concurrency = integer('concurrency', o.concurrency, 1, 1024) ?? defaultConcurrency();
  const ioConcurrency = integer('io-concurrency', o.ioConcurrency, 1, 4096) ?? Math.max(8, concurrency * 4);
  const globs = (name: string, v: unknown): string[] | undefined => {
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : [v];
    for (const g of list) if (typeof g !== 'string' || g.trim() === '') throw invalidOption(name, 'a glob pattern', g);
    return list as string[];
  };
  return {
    spec,
    include: globs('include', o.include) ?? DEFAULT_INCLUDE,
    exclude: globs('exclude', o.exclude) ?? [],
    overwrite: oneOf<OverwritePolicy>('overwrite', o.overwrite, OVERWRITE_POLICIES, 'if-newer'),
    concurrency,
    ioConcurrency,
    maxPixels: integer('max-pixels', o.maxPixels, 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_PIXELS,
    dryRun: o.dryRun === true,
  };
}
