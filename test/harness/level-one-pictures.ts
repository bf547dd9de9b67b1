// Test pictures for pixpng's level 1 choice between string matching and literal coding.

/**
 * Two 640x400 test pictures by channel count: a photograph-like one (a smooth gradient under
 * sensor noise, where string matching finds next to nothing) and a drawn one (flat tiles and a
 * repeated pattern, where matching pays). The level 1 test in pixpng.test.ts makes them in its own
 * process and in child processes, so they live here.
 */
export function levelOnePictures(channels: number): { noisy: Buffer; drawn: Buffer } {
  const [w, h] = [640, 400];
  const noisy = Buffer.alloc(w * h * channels);
  const drawn = Buffer.alloc(w * h * channels);
  let seed = 12345 + channels;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < channels; k++) {
        const i = (y * w + x) * channels + k;
        noisy[i] = Math.max(0, Math.min(255, Math.round((x * 180) / w + (y * 60) / h + k * 10 + (rand() % 25) - 12)));
        drawn[i] = ((x >> 5) ^ (y >> 5)) & 1 ? 40 + k * 50 : (x + y * 3) % 7 === 0 ? 250 : 120 + k * 20;
      }
  return { noisy, drawn };
}
