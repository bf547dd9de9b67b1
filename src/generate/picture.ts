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

/** Packed 8-bit RGB pixels, row by row, `width * height * 3` bytes. */
export function paintPicture(width: number, height: number, rng: Random, label: string): Buffer {
  const pixels = Buffer.allocUnsafe(width * height * 3);
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
  const noise = new Noise(rng);
  for (let y = 0; y < height; y++) {
    const base = y < horizon ? mix(skyTop, skyLow, y / Math.max(1, horizon)) : mix(groundHigh, groundLow, (y - horizon) / Math.max(1, height - horizon));
    const r = Math.round(base[0]);
    const g = Math.round(base[1]);
    const b = Math.round(base[2]);
    let i = y * width * 3;
    for (let x = 0; x < width; x++, i += 3) {
      const v = vignette[x]!;
      const d = noise.next();
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

/** Luma noise like a camera sensor's: one small signed value per pixel, four pixels per xorshift step. */
class Noise {
  private readonly table = new Int8Array(256);
  private state: number;
  private left = 0;
  private bits = 0;

  constructor(rng: Random) {
    const amplitude = rng.int(3, 9);
    for (let k = 0; k < 256; k++) this.table[k] = Math.round(((k / 255) * 2 - 1) * amplitude);
    this.state = rng.uint32() || 1;
  }

  next(): number {
    if (this.left === 0) {
      let s = this.state;
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      this.state = s;
      this.bits = s;
      this.left = 4;
    }
    const d = this.table[this.bits & 0xff]!;
    this.bits >>>= 8;
    this.left--;
    return d;
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
    let i = (y * width + x0) * 3;
    for (let x = x0; x <= x1; x++, i += 3) {
      const d = noise.next();
      px[i] = r + d;
      px[i + 1] = g + d;
      px[i + 2] = b + d;
    }
  }
}
