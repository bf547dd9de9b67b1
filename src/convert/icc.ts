// Whether an embedded ICC profile describes sRGB itself. Such an image is already in the colour space
// pixbatch writes, so converting it through the colour engine (lcms, in libvips) only costs time:
// about 10 ms of CPU per megapixel, as much as the JPEG decode, and it moves a colour by a level
// or two here and there through rounding (0.9% of all 8-bit colours for the usual sRGB profile,
// 3.6% for GIMP's; none of the pixels of the photographs in the benchmark).

/** sRGB's colorants adapted to D50, the ICC connection space, as sRGB profiles store them. */
const SRGB_COLORANTS = [
  [0.43607, 0.22249, 0.01392],
  [0.38515, 0.71687, 0.09708],
  [0.14307, 0.06061, 0.7141],
] as const;

// How far a profile may be from sRGB and still be taken for it. The common sRGB profiles differ from
// each other by up to 0.0003 in their colorants (HP's, which most cameras and editors embed, and
// GIMP's built-in one made with lcms), and colorants 0.0005 off already move colours by 3 levels.
// Tone curves are compared in 8-bit levels, after encoding back with sRGB's curve (in linear light
// a level near black is only 0.0003): both common profiles are within 0.03 of a level, and a curve
// within a quarter of a level moves no colour by more than one.
const COLORANT_TOLERANCE = 0.0004;
const CURVE_TOLERANCE_LEVELS = 0.25;

function linearToSrgb(y: number): number {
  return y <= 0.0031308 ? 12.92 * y : 1.055 * Math.max(y, 0) ** (1 / 2.4) - 0.055;
}

type Tags = Map<string, Buffer>;

// Reads the tag table as the colour engine (lcms) does, and refuses what it would read differently:
// a tag named twice (lcms takes the first), or one that runs past the size the header declares
// (lcms skips it).
function readTags(icc: Buffer): Tags | undefined {
  if (icc.length < 132 || icc.toString('latin1', 36, 40) !== 'acsp') return undefined;
  const end = Math.min(icc.readUInt32BE(0), icc.length);
  const count = icc.readUInt32BE(128);
  if (count > 100 || 132 + 12 * count > end) return undefined;
  const tags: Tags = new Map();
  for (let i = 0; i < count; i++) {
    const at = 132 + 12 * i;
    const sig = icc.toString('latin1', at, at + 4);
    const offset = icc.readUInt32BE(at + 4);
    const size = icc.readUInt32BE(at + 8);
    if (tags.has(sig) || offset === 0 || size < 8 || offset + size > end) return undefined;
    tags.set(sig, icc.subarray(offset, offset + size));
  }
  return tags;
}

function s15(b: Buffer, at: number): number {
  return b.readInt32BE(at) / 65536;
}

/** A tone curve as a function on [0, 1], or undefined for a type this does not read. */
function toneCurve(tag: Buffer | undefined): ((x: number) => number) | undefined {
  if (!tag) return undefined;
  const type = tag.toString('latin1', 0, 4);
  if (type === 'curv' && tag.length >= 12) {
    const n = tag.readUInt32BE(8);
    if (n < 2 || tag.length < 12 + 2 * n) return undefined; // identity or a plain gamma: not sRGB's curve
    return (x) => {
      const pos = x * (n - 1);
      const lo = Math.min(Math.floor(pos), n - 2);
      const f = pos - lo;
      return (tag.readUInt16BE(12 + 2 * lo) * (1 - f) + tag.readUInt16BE(14 + 2 * lo) * f) / 65535;
    };
  }
  if (type === 'para' && tag.length >= 16) {
    const fn = tag.readUInt16BE(8);
    const need = [1, 3, 4, 5, 7][fn];
    if (need === undefined || tag.length < 12 + 4 * need) return undefined;
    const [g, a, b, c, d, e, f] = Array.from({ length: 7 }, (_, i) => (i < need ? s15(tag, 12 + 4 * i) : 0)) as [number, number, number, number, number, number, number];
    const pow = (v: number) => (v > 0 ? v ** g : 0);
    switch (fn) {
      case 0:
        return (x) => pow(x);
      case 1:
        return (x) => (x >= -b / a ? pow(a * x + b) : 0);
      case 2:
        return (x) => (x >= -b / a ? pow(a * x + b) + c : c);
      case 3:
        return (x) => (x >= d ? pow(a * x + b) : c * x);
      default:
        return (x) => (x >= d ? pow(a * x + b) + e : c * x + f);
    }
  }
  return undefined;
}

/**
 * Whether an embedded ICC profile describes sRGB: an RGB profile made of colorants and tone curves
 * (no lookup tables, which the colour engine would use instead) whose colorants are within 0.0004
 * of sRGB's and whose curves give every 8-bit level back within a quarter of a level. Anything it cannot
 * read, it answers false for, and the image goes through the colour engine as before.
 *
 * @example
 * const meta = await sharp(input).metadata();
 * const ignoreIcc = meta.icc !== undefined && describesSrgb(meta.icc);
 */
export function describesSrgb(icc: Buffer): boolean {
  try {
    if (!['mntr', 'scnr', 'spac'].includes(icc.toString('latin1', 12, 16)) || icc.toString('latin1', 16, 24) !== 'RGB XYZ ') return false;
    const tags = readTags(icc);
    if (!tags) return false;
    for (const sig of tags.keys()) if (/^(A2B|B2A|D2B|B2D)/.test(sig)) return false;
    for (const [i, sig] of (['rXYZ', 'gXYZ', 'bXYZ'] as const).entries()) {
      const tag = tags.get(sig);
      if (!tag || tag.length < 20 || tag.toString('latin1', 0, 4) !== 'XYZ ') return false;
      for (let j = 0; j < 3; j++) if (Math.abs(s15(tag, 8 + 4 * j) - SRGB_COLORANTS[i]![j]!) > COLORANT_TOLERANCE) return false;
    }
    for (const sig of ['rTRC', 'gTRC', 'bTRC']) {
      const curve = toneCurve(tags.get(sig));
      if (!curve) return false;
      for (let v = 0; v <= 255; v++) if (!(Math.abs(linearToSrgb(curve(v / 255)) * 255 - v) <= CURVE_TOLERANCE_LEVELS)) return false;
    }
    return true;
  } catch {
    return false;
  }
}
