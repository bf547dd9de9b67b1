// A second kind of test picture for the benchmark: a smooth scene (colour fields and soft
// shapes) under sensor-like noise, JPEG-compressed. `pixbatch generate` paints flat shapes and
// repeated texture, which zlib's string matching finds; a camera's noise never repeats, so a
// photograph compresses differently, and encoders rank differently on it. No real photographs
// ship with the repository, so this stands in for them, and the README says which is which.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Random } from '../src/generate/random.js';

/** Writes `count` noisy photo-like JPEGs into `dir`; returns their names and total bytes. */
export async function writeNoisyCorpus(dir: string, count: number, width: number, height: number, seed: number): Promise<{ files: string[]; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const gen = new Random(seed * 7919 + i);
    const rnd = () => gen.next();
    // Low-frequency scene: a coarse random colour grid scaled up smoothly, plus a mid-scale layer.
    const coarse = Buffer.from(Array.from({ length: 8 * 6 * 3 }, () => Math.floor(rnd() * 256)));
    const mid = Buffer.from(Array.from({ length: 64 * 48 * 3 }, () => Math.floor(rnd() * 256)));
    const base = await sharp(coarse, { raw: { width: 8, height: 6, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
    const detail = await sharp(mid, { raw: { width: 64, height: 48, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).blur(4).raw().toBuffer();
    const pixels = Buffer.allocUnsafe(width * height * 3);
    for (let j = 0; j < pixels.length; j++) {
      // Roughly Gaussian noise, sigma about 4 levels, as a camera at moderate ISO.
      const noise = (rnd() + rnd() + rnd() - 1.5) * 8;
      pixels[j] = Math.max(0, Math.min(255, Math.round(base[j]! * 0.75 + detail[j]! * 0.25 + noise)));
    }
    const name = `noisy-${String(i + 1).padStart(5, '0')}.jpg`;
    const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    await writeFile(join(dir, name), jpeg);
    files.push(name);
    bytes += jpeg.length;
  }
  return { files, bytes };
}
