import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { convertImage } from '../src/convert/image.js';
import { encodeRawPng, encodeToBuffer, usesFastPng, PNG_PRESETS } from '../src/convert/encode.js';
import { encodePngFast, loadFastPng } from '../src/convert/png-fast.js';
import { loadPixpng, pixpngStatus } from '../src/convert/pixpng.js';
import type { ConversionSpec, Preset } from '../src/interfaces.js';

const PRESETS: Preset[] = ['fast', 'balanced', 'small'];
const W = 67; // odd sizes catch row-stride mistakes
const H = 45;

/** Photo-like test pixels: gradients plus deterministic noise, `channels` samples per pixel. */
function pixels(channels: number, depth: 8 | 16 = 8): Buffer {
  const max = depth === 8 ? 255 : 65535;
  const out = depth === 8 ? Buffer.alloc(W * H * channels) : Buffer.alloc(W * H * channels * 2);
  let seed = 12345;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < channels; c++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const v = Math.min(max, Math.max(0, Math.round(((x * (c + 1) + y * 3) / (W + H * 3)) * max * 0.8 + (seed % 41) * (max / 255))));
        const i = (y * W + x) * channels + c;
        if (depth === 8) out[i] = v;
        else out.writeUInt16BE(v, i * 2);
      }
    }
  }
  return out;
}

async function rawImage(channels: 1 | 2 | 3 | 4, format: 'jpeg' | 'png', depth: 8 | 16 = 8): Promise<Buffer> {
  if (depth === 16) {
    // sharp takes 16-bit raw input as a Uint16Array in machine order.
    const be = pixels(channels, 16);
    const samples = new Uint16Array(be.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = be.readUInt16BE(i * 2);
    return sharp(samples, { raw: { width: W, height: H, channels } }).toColourspace('rgb16').png().toBuffer();
  }
  // Without an explicit colour space sharp writes one and two channels as RGB.
  const img = sharp(pixels(channels), { raw: { width: W, height: H, channels } }).toColourspace(channels <= 2 ? 'b-w' : 'srgb');
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}

/** Bit depth and colour type straight from the PNG's IHDR chunk. */
function ihdr(png: Buffer): { bitDepth: number; colourType: number } {
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  return { bitDepth: png[24]!, colourType: png[25]! };
}

async function decoded(png: Buffer): Promise<{ data: Buffer; channels: number }> {
  const { data, info } = await sharp(png).raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels };
}

const spec = (preset: Preset, extra: Partial<ConversionSpec> = {}): ConversionSpec => ({ to: 'png', preset, keepMetadata: false, ...extra });

const INPUTS: { name: string; make: () => Promise<Buffer>; colourType: number }[] = [
  { name: 'an RGB JPEG', make: () => rawImage(3, 'jpeg'), colourType: 2 },
  { name: 'a greyscale JPEG', make: () => rawImage(1, 'jpeg'), colourType: 0 },
  { name: 'an RGBA PNG', make: () => rawImage(4, 'png'), colourType: 6 },
  { name: 'a grey+alpha PNG', make: () => rawImage(2, 'png'), colourType: 4 },
  { name: 'a 16-bit RGB PNG', make: () => rawImage(3, 'png', 16), colourType: 2 },
];

describe('PNG encoding keeps every pixel, the colour type and the bit depth', () => {
  for (const input of INPUTS) {
    for (const preset of PRESETS) {
      test(`${input.name} with --preset ${preset} decodes to the same pixels as sharp's own PNG`, async () => {
        const source = await input.make();
        const out = await convertImage(source, spec(preset), { maxPixels: 1e8 });
        // Reference: the same conversion written by libpng (an explicit zlib level always takes libpng).
        const reference = await convertImage(source, spec(preset, { pngCompression: 6 }), { maxPixels: 1e8 });
        assert.equal(ihdr(out.data).colourType, input.colourType);
        assert.deepEqual(ihdr(out.data), ihdr(reference.data));
        const [a, b] = await Promise.all([decoded(out.data), decoded(reference.data)]);
        assert.equal(a.channels, b.channels);
        assert.ok(a.data.equals(b.data), 'decoded pixels differ from the libpng reference');
        if (ihdr(out.data).bitDepth === 8) {
          // And from the source as sharp decodes it, with no encoder in between.
          const source8 = await sharp(source).raw().toBuffer();
          const output8 = await sharp(out.data).raw().toBuffer();
          assert.ok(output8.equals(source8), 'decoded pixels differ from the source decode');
        }
        assert.equal(out.width, W);
        assert.equal(out.height, H);
      });
    }
  }

  test('the fast encoder writes the exact pixels it is given, in RGB and RGBA', async () => {
    for (const channels of [3, 4] as const) {
      const raw = pixels(channels);
      const png = await encodePngFast(raw, W, H, channels);
      assert.ok(png, `no output for ${channels} channels`);
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.channels, channels);
      assert.ok(data.equals(raw), `${channels}-channel pixels changed`);
    }
  });

  test('the fast encoder declines layouts it cannot keep, so libpng takes them', async () => {
    // The binding widens grey to RGB, which would change the colour type.
    assert.equal(await encodePngFast(pixels(1), W, H, 1), undefined);
    assert.equal(await encodePngFast(pixels(2), W, H, 2), undefined);
    assert.equal(await encodePngFast(pixels(3, 16), W, H, 3), undefined);
  });
});

describe('which encoder a spec uses', () => {
  test('fast and balanced may use the native encoder or fdeflate; small and every libpng setting use a row filter', async () => {
    assert.ok(await loadFastPng(), 'the @napi-rs/image binary is installed with the package on this platform');
    assert.equal(usesFastPng(spec('fast')), true);
    assert.equal(usesFastPng(spec('balanced')), true);
    assert.equal(usesFastPng(spec('small')), false);
    for (const p of PRESETS) assert.equal(PNG_PRESETS[p].adaptiveFiltering, true);
  });

  test('without the native encoder, noisy photo-like pixels go to fdeflate, repeated texture to libpng, and both decode to the same pixels', async () => {
    const w = 256;
    const h = 192;
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    const noisy = Buffer.alloc(w * h * 3);
    // A smooth gradient with sensor-like noise of a few levels, as in a photograph.
    for (let i = 0; i < noisy.length; i++) noisy[i] = 40 + Math.floor(i / 3 / w / 2) + ((Math.floor(i / 3) % w) >> 1) + Math.round(((next() + next() + next()) / 765) * 8);
    const tile = Buffer.from(Array.from({ length: 16 * 3 }, () => next()));
    const tiled = Buffer.alloc(w * h * 3);
    for (let i = 0; i < tiled.length; i++) tiled[i] = tile[i % tile.length]! ^ (i % 7 === 0 ? 1 : 0);
    for (const preset of ['fast', 'balanced'] as const) {
      const a = await encodeRawPng(noisy, w, h, 3, preset, { native: false });
      const b = await encodeRawPng(tiled, w, h, 3, preset, { native: false });
      assert.equal(a?.encoder, 'fdeflate', `noisy, ${preset}`);
      assert.equal(b?.encoder, 'libpng', `tiled, ${preset}`);
      assert.ok((await sharp(a!.data).raw().toBuffer()).equals(noisy));
      assert.ok((await sharp(b!.data).raw().toBuffer()).equals(tiled));
      assert.deepEqual(ihdr(a!.data), { bitDepth: 8, colourType: 2 });
      assert.deepEqual(ihdr(b!.data), { bitDepth: 8, colourType: 2 });
    }
    assert.equal(await encodeRawPng(noisy, w, h, 3, 'small'), undefined, 'small always takes libpng');
  });

  test('with the native encoder built, fast and balanced write every 8-bit layout with it, pixel for pixel', async (t) => {
    if (!loadPixpng()) {
      if (process.env.PIXBATCH_REQUIRE_NATIVE === '1') assert.fail(`the native encoder did not load: ${pixpngStatus().reason}`);
      t.skip(`native encoder not built: ${pixpngStatus().reason}`);
      return;
    }
    for (const channels of [1, 2, 3, 4] as const) {
      const raw = pixels(channels);
      for (const preset of ['fast', 'balanced'] as const) {
        const out = await encodeRawPng(raw, W, H, channels, preset);
        assert.equal(out?.encoder, 'pixpng', `${channels} channels, ${preset}`);
        assert.deepEqual(ihdr(out!.data), { bitDepth: 8, colourType: [0, 0, 4, 2, 6][channels] });
        // sharp widens grey to RGB(A) on raw output: compare sample by sample.
        const back = await sharp(out!.data).raw().toBuffer({ resolveWithObject: true });
        const wide = channels <= 2 ? channels + 2 : channels;
        assert.equal(back.info.channels, wide);
        const expected = Buffer.alloc(W * H * wide);
        for (let i = 0; i < W * H; i++) {
          for (let c = 0; c < wide; c++) {
            const from = channels <= 2 ? (c < 3 ? 0 : 1) : c;
            expected[i * wide + c] = raw[i * channels + from]!;
          }
        }
        assert.ok(back.data.equals(expected), `${channels} channels, ${preset}: pixels changed`);
      }
    }
    assert.equal(await encodeRawPng(pixels(3), W, H, 3, 'small'), undefined, 'small always takes libpng');
  });

  test('balanced spends its extra time on string matching: repeated texture comes out smaller than with fast', async (t) => {
    if (!loadPixpng()) {
      t.skip(`native encoder not built: ${pixpngStatus().reason}`);
      return;
    }
    const w = 512;
    const h = 256;
    let seed = 99;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    // Texture that repeats every 97 pixels, with a little noise: only a matcher that looks back finds it.
    const tile = Buffer.from(Array.from({ length: 97 * 3 }, () => next()));
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (tile[i % tile.length]! + (next() < 8 ? 1 : 0)) & 255;
    const fast = await encodeRawPng(raw, w, h, 3, 'fast');
    const balanced = await encodeRawPng(raw, w, h, 3, 'balanced');
    assert.ok(balanced!.data.length < fast!.data.length, `balanced ${balanced!.data.length} B, fast ${fast!.data.length} B`);
    // And it stays close to libpng with zlib level 3, the fallback it replaces.
    const libpng3 = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 3, adaptiveFiltering: true }).toBuffer();
    assert.ok(balanced!.data.length < 1.1 * libpng3.length, `balanced ${balanced!.data.length} B, libpng level 3 ${libpng3.length} B`);
  });

  test('--keep-metadata and --png-compression send the fast preset to libpng, which keeps metadata', async () => {
    assert.equal(usesFastPng(spec('fast', { keepMetadata: true })), false);
    assert.equal(usesFastPng(spec('fast', { pngCompression: 6 })), false);
    const source = await sharp(pixels(3), { raw: { width: W, height: H, channels: 3 } })
      .withExif({ IFD0: { Copyright: 'pixbatch test' } })
      .jpeg()
      .toBuffer();
    const out = await encodeToBuffer(sharp(source).keepMetadata(), spec('fast', { keepMetadata: true }));
    const meta = await sharp(out.data).metadata();
    assert.ok(meta.exif?.includes(Buffer.from('pixbatch test')), 'EXIF was not kept');
  });
});
