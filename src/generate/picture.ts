// Paints one photo-like picture into a raw RGB buffer: a sky/ground gradient with a vignette,
// a few flat shapes with shading, sensor-like noise and an index label. All randomness comes from
// the Random passed in, so the same seed always paints the same pixels.
import { drawLabel, labelSize } from './label.js';
import type { Random } from './random.js';

type Rgb = [number, number, number];

interface Shape {
  kind: 'ellipse' | 'rect';
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  colour: Rgb;
  /** Change in brightness from top to bottom of the shape, so shapes look lit from above. */
  shade: number;
}

function colour(rng: Random, min: number, max: number): Rgb {
  return [rng.int(min, max), rng.int(min, max), rng.int(min, max)];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/**
 * Packed 8-bit RGB pixels, row by row, `width * height * 3` bytes. Paints into `into` when given
 * (every byte is overwritten), so a caller making many pictures reuses one buffer.
 */
export function paintPicture(width: number, height: number, rng: Random, label: string, into?: Buffer): Buffer {
  const bytes = width * height * 3;
  if (into && into.length !== bytes) throw new RangeError(`expected a buffer of ${bytes} bytes, got ${into.length}`);
  const pixels = into ?? Buffer.allocUnsafe(bytes);
  // Every write goes through a clamped view, so shading and noise saturate instead of wrapping around.
  const px = new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.length);

  // Background: sky above a horizon, ground below, darker towards the sides.
  const skyTop = colour(rng, 20, 140);
  const skyLow = colour(rng, 120, 250);
  const groundHigh = colour(rng, 60, 200);
  const groundLow = colour(rng, 10, 90);
  const horizon = Math.floor(height * rng.range(0.35, 0.7));
  const strength = rng.range(0.15, 0.45);
  // Fixed point (x256) keeps the per-pixel work to integer multiplies and shifts.
  const vignette = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    const d = (x - width / 2) / (width / 2);
    vignette[x] = Math.round(256 * (1 - strength * d * d));
  }
  const noise = new Noise(rng, width);
  for (let y = 0; y < height; y++) {
    const base = y < horizon ? mix(skyTop, skyLow, y / Math.max(1, horizon)) : mix(groundHigh, groundLow, (y - horizon) / Math.max(1, height - horizon));
    const r = Math.round(base[0]);
    const g = Math.round(base[1]);
    const b = Math.round(base[2]);
    const row = noise.row(width);
    let i = y * width * 3;
    for (let x = 0; x < width; x++, i += 3) {
      const v = vignette[x]!;
      const d = row[x]!;
      px[i] = ((r * v) >> 8) + d;
      px[i + 1] = ((g * v) >> 8) + d;
      px[i + 2] = ((b * v) >> 8) + d;
    }
  }

  // Shapes, painted one row span at a time.
  const count = rng.int(3, 7);
  const unit = Math.min(width, height);
  for (let s = 0; s < count; s++) {
    paintShape(px, width, height, noise, {
      kind: rng.next() < 0.55 ? 'ellipse' : 'rect',
      cx: rng.range(0, width),
      cy: rng.range(height * 0.2, height),
      rx: rng.range(unit * 0.04, unit * 0.3),
      ry: rng.range(unit * 0.04, unit * 0.3),
      colour: colour(rng, 0, 255),
      shade: rng.range(-0.5, 0.1),
    });
  }

  // The label goes in the bottom-left corner, about a twelfth of the picture's height.
  const scale = Math.max(1, Math.floor(height / 84));
  const size = labelSize(label, scale);
  drawLabel(pixels, width, height, label, 2 * scale, height - size.height - 2 * scale, scale);
  return pixels;
}

/** Luma noise like a camera sensor's: one small signed value per pixel, a row at a time. */
class Noise {
  private readonly table = new Int8Array(256);
  private readonly values: Int8Array;
  private state: number;

  constructor(rng: Random, width: number) {
    const amplitude = rng.int(3, 9);
    for (let k = 0; k < 256; k++) this.table[k] = Math.round(((k / 255) * 2 - 1) * amplitude);
    this.state = rng.uint32() || 1;
    this.values = new Int8Array(width + 4);
  }

  /** The next `n` noise values (n <= width); the array is reused by the next call. */
  row(n: number): Int8Array {
    const { table, values } = this;
    let s = this.state;
    // One xorshift32 step gives four values, a byte each.
    for (let k = 0; k < n; k += 4) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      values[k] = table[s & 0xff]!;
      values[k + 1] = table[(s >>> 8) & 0xff]!;
      values[k + 2] = table[(s >>> 16) & 0xff]!;
      values[k + 3] = table[s >>> 24]!;
    }
    this.state = s;
    return values;
  }
}

function paintShape(px: Uint8ClampedArray, width: number, height: number, noise: Noise, s: Shape): void {
  const y0 = Math.max(0, Math.ceil(s.cy - s.ry));
  const y1 = Math.min(height - 1, Math.floor(s.cy + s.ry));
  for (let y = y0; y <= y1; y++) {
    const dy = (y - s.cy) / s.ry;
    const half = s.kind === 'rect' ? s.rx : s.rx * Math.sqrt(Math.max(0, 1 - dy * dy));
    const x0 = Math.max(0, Math.ceil(s.cx - half));
    const x1 = Math.min(width - 1, Math.floor(s.cx + half));
    if (x1 < x0) continue;
    const light = 1 + s.shade * ((dy + 1) / 2);
    const r = Math.round(s.colour[0] * light);
    const g = Math.round(s.colour[1] * light);
    const b = Math.round(s.colour[2] * light);
    const row = noise.row(x1 - x0 + 1);
    let i = (y * width + x0) * 3;
    for (let x = x0, k = 0; x <= x1; x++, k++, i += 3) {
      const d = row[k]!;
      px[i] = r + d;
      px[i + 1] = g + d;
      px[i + 2] = b + d;
    }
  }
}
