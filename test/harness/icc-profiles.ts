// ICC profiles made to order for the tests: a v2 RGB display profile from colorants and tone
// curves, and a PNG that carries one (an iCCP chunk spliced into pixpng's or libpng's output).
import { deflateSync } from 'node:zlib';
import { crc32 } from './crc32.js';

/** sRGB's colorants adapted to D50 (the ICC's connection space), as the common sRGB profiles store them. */
export const SRGB_D50: readonly (readonly [number, number, number])[] = [
  [0.43607, 0.22249, 0.01392],
  [0.38515, 0.71687, 0.09708],
  [0.14307, 0.06061, 0.7141],
];
/** Adobe RGB (1998) adapted to D50: a wider gamut whose profile must not pass for sRGB. */
export const ADOBE_RGB_D50: readonly (readonly [number, number, number])[] = [
  [0.60974, 0.31111, 0.01947],
  [0.20528, 0.62567, 0.06087],
  [0.14919, 0.06322, 0.74457],
];

export function srgbToLinear(x: number): number {
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
}

/** A tone curve as an ICC curv table of `n` entries from a function on [0, 1]. */
export function curveTable(f: (x: number) => number, n = 1024): number[] {
  return Array.from({ length: n }, (_, i) => Math.round(Math.min(1, Math.max(0, f(i / (n - 1)))) * 65535));
}

export type Curve = { table: number[] } | { gamma: number } | { sRGBParametric: true };

function s15(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(Math.round(v * 65536));
  return b;
}

function xyz(v: readonly number[]): Buffer {
  return Buffer.concat([Buffer.from('XYZ \0\0\0\0', 'latin1'), ...v.map(s15)]);
}

function curve(c: Curve): Buffer {
  if ('sRGBParametric' in c) {
    // parametricCurveType, function 3: (ax + b)^g for x >= d, else cx.
    const head = Buffer.from('para\0\0\0\0\0\x03\0\0', 'latin1');
    return Buffer.concat([head, ...[2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045].map(s15)]);
  }
  if ('gamma' in c) {
    const b = Buffer.from('curv\0\0\0\0\0\0\0\x01\0\0', 'latin1');
    b.writeUInt16BE(Math.round(c.gamma * 256), 12);
    return b;
  }
  const b = Buffer.alloc(12 + 2 * c.table.length);
  b.write('curv', 0, 'latin1');
  b.writeUInt32BE(c.table.length, 8);
  c.table.forEach((v, i) => b.writeUInt16BE(v, 12 + 2 * i));
  return b;
}

function desc(text: string): Buffer {
  const ascii = Buffer.from(text + '\0', 'latin1');
  const head = Buffer.alloc(12);
  head.write('desc', 0, 'latin1');
  head.writeUInt32BE(ascii.length, 8);
  // Unicode (language, count) and ScriptCode (code, count, 67 bytes), all empty.
  return Buffer.concat([head, ascii, Buffer.alloc(8 + 2 + 1 + 67)]);
}

/**
 * A v2 RGB display profile with matrix and tone curves.
 *
 * @example
 * const icc = rgbProfile({ colorants: SRGB_D50, curves: { table: curveTable(srgbToLinear) } });
 */
export function rgbProfile(o: { colorants: readonly (readonly number[])[]; curves: Curve; description?: string; extraTags?: Record<string, Buffer> }): Buffer {
  const c = o.curves;
  const tags: [string, Buffer][] = [
    ['desc', desc(o.description ?? 'pixbatch test profile')],
    ['cprt', Buffer.concat([Buffer.from('text\0\0\0\0', 'latin1'), Buffer.from('No copyright, test data\0', 'latin1')])],
    ['wtpt', xyz([0.9505, 1, 1.0891])],
    ['rXYZ', xyz(o.colorants[0]!)],
    ['gXYZ', xyz(o.colorants[1]!)],
    ['bXYZ', xyz(o.colorants[2]!)],
    ['rTRC', curve(c)],
    ['gTRC', curve(c)],
    ['bTRC', curve(c)],
    ...Object.entries(o.extraTags ?? {}),
  ];
  const tableSize = 4 + 12 * tags.length;
  let offset = 128 + tableSize;
  const table = Buffer.alloc(tableSize);
  table.writeUInt32BE(tags.length, 0);
  const data: Buffer[] = [];
  tags.forEach(([sig, body], i) => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    table.write(sig, 4 + 12 * i, 'latin1');
    table.writeUInt32BE(offset, 8 + 12 * i);
    table.writeUInt32BE(body.length, 12 + 12 * i);
    data.push(padded);
    offset += padded.length;
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write('mntrRGB XYZ ', 12, 'latin1');
  header.write('acsp', 36, 'latin1');
  [0.9642, 1, 0.8249].forEach((v, i) => s15(v).copy(header, 68 + 4 * i));
  return Buffer.concat([header, table, ...data]);
}

/** The PNG with an iCCP chunk carrying `icc` right after its IHDR (where the PNG spec wants it). */
export function withIccChunk(png: Buffer, icc: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(icc)]);
  const typed = Buffer.concat([Buffer.from('iCCP', 'latin1'), body]);
  const chunk = Buffer.alloc(12 + body.length);
  chunk.writeUInt32BE(body.length, 0);
  typed.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typed), 8 + body.length);
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

/** Every 8-bit RGB colour once: a 4096x4096 image, 48 MiB. */
export function everyColour(): Buffer {
  const b = Buffer.alloc(4096 * 4096 * 3);
  for (let i = 0, o = 0; i < 1 << 24; i++, o += 3) {
    b[o] = i >> 16;
    b[o + 1] = (i >> 8) & 0xff;
    b[o + 2] = i & 0xff;
  }
  return b;
}
