/** Small deterministic test images as buffers (different pixels per seed), for uploading to Azurite. */
import sharp from 'sharp';

export async function jpegBuffer(width: number, height: number, seed: number, quality = 85): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + seed * 31 + ((i / 3 / width) | 0) * 3) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}
