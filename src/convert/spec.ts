import { createHash } from 'node:crypto';
import type { ConversionSpec, OutputFormat } from '../interfaces.js';

/** Metadata keys an output records about where it came from (blob metadata, or the file store's manifest). */
export const META_SOURCE_ETAG = 'pixbatchsource';
export const META_SPEC = 'pixbatchspec';

const EXTENSIONS: Record<OutputFormat, string> = { png: '.png', jpeg: '.jpg', webp: '.webp', avif: '.avif', tiff: '.tiff' };
const CONTENT_TYPES: Record<OutputFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  avif: 'image/avif',
  tiff: 'image/tiff',
};

/** Version of the conversion code folded into the spec id: bump it when the same options would give different pixels. */
const PIPELINE_VERSION = 1;

/** A short stable id for "these options produce these bytes", recorded on every output. */
export function specId(spec: ConversionSpec): string {
  const canonical = JSON.stringify(spec, Object.keys(flatten(spec)).sort());
  return createHash('sha256').update(`${PIPELINE_VERSION}:${canonical}`).digest('hex').slice(0, 16);
}

function flatten(o: object, out: Record<string, true> = {}): Record<string, true> {
  for (const [k, v] of Object.entries(o)) {
    out[k] = true;
    if (v && typeof v === 'object') flatten(v, out);
  }
  return out;
}

export function extensionFor(format: OutputFormat): string {
  return EXTENSIONS[format];
}

export function contentTypeFor(format: OutputFormat): string {
  return CONTENT_TYPES[format];
}

/** `a/b/photo.JPG` → `a/b/photo.png`: the folder structure is kept, the extension replaced. */
export function outputNameFor(name: string, spec: ConversionSpec): string {
  const slash = name.lastIndexOf('/');
  const dot = name.lastIndexOf('.');
  const stem = dot > slash + 1 ? name.slice(0, dot) : name;
  return stem + EXTENSIONS[spec.to];
}
