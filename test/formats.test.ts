// Which source formats a conversion takes (`from`), what happens to animations, and the colour
// transparency becomes in a JPEG: real images made with sharp, converted by the real pipeline.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { convert, resolveOptions, type Summary } from '../src/index.js';
import { readsHevc } from '../src/convert/input-formats.js';
import { readConfigFile } from '../src/config/index.js';
import { jsonFrom, runPixbatch } from './harness/cli.js';

const HEVC_HEIC = fileURLToPath(new URL('./fixtures/heic/hevc-64x48.heic', import.meta.url));

let root: string;
let src: string;
let n = 0;
const out = () => join(root, `out-${++n}`);

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith('.') && !join(e.parentPath, e.name).includes('.pixbatch'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Three 8x6 frames, red, green, blue, 100/200/300 ms: a real animated GIF written by libvips' cgif. */
async function animatedGif(): Promise<Buffer> {
  const [w, h] = [8, 6];
  const strip = Buffer.alloc(w * h * 3 * 4);
  const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  for (let i = 0; i < w * h * 3; i++) strip.set([...colours[Math.floor(i / (w * h))]!, 255], i * 4);
  return sharp(strip, { raw: { width: w, height: h * 3, channels: 4, pageHeight: h } }).gif({ delay: [100, 200, 300], loop: 0 }).toBuffer();
}

/** 16x16: the top half opaque red, the bottom half fully transparent (stored as transparent black). */
async function halfTransparentPng(): Promise<Buffer> {
  const px = Buffer.alloc(16 * 16 * 4);
  for (let i = 0; i < 256; i++) px.set(i < 128 ? [255, 0, 0, 255] : [0, 0, 0, 0], i * 4);
  return sharp(px, { raw: { width: 16, height: 16, channels: 4 } }).png().toBuffer();
}

async function pixel(file: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return [...data.subarray(o, o + 3)];
}

function near(actual: number[], expected: number[], within = 3): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= within);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-formats-'));
  src = join(root, 'src');
  await mkdir(join(src, 'shop'), { recursive: true });
  const base = sharp({ create: { width: 12, height: 8, channels: 3, background: { r: 20, g: 120, b: 200 } } });
  await writeFile(join(src, 'photo.jpg'), await base.clone().jpeg().toBuffer());
  await writeFile(join(src, 'logo.png'), await halfTransparentPng());
  await writeFile(join(src, 'shop', 'item.png'), await base.clone().png().toBuffer());
  await writeFile(join(src, 'banner.webp'), await base.clone().webp().toBuffer());
  await writeFile(join(src, 'scan.tif'), await base.clone().tiff().toBuffer());
  await writeFile(join(src, 'hero.avif'), await base.clone().avif().toBuffer());
  await writeFile(join(src, 'spinner.gif'), await animatedGif());
  await writeFile(join(src, 'phone.heic'), await readFile(HEVC_HEIC));
  await writeFile(join(src, 'notes.txt'), 'not an image');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('from: which source formats are taken', () => {
  test('without from, only .jpg and .jpeg names are taken, as before', async () => {
    const dest = out();
    const s = await convert({ source: src, destination: dest });
    assert.deepEqual(s.counts, { total: 1, converted: 1, skipped: 0, failed: 0 });
    assert.deepEqual(await files(dest), ['photo.png']);
  });

  test('from png takes PNGs in every folder, and a comma list takes several formats', async () => {
    const png = out();
    await convert({ source: src, destination: png, to: 'webp', from: 'png' });
    assert.deepEqual(await files(png), ['logo.webp', 'shop/item.webp']);
    const several = out();
    await convert({ source: src, destination: several, from: 'webp,tiff' });
    assert.deepEqual(await files(several), ['banner.png', 'scan.png']);
  });

  test('with include as well, a name must match the include glob and be one of the from formats', async () => {
    const dest = out();
    await convert({ source: src, destination: dest, from: ['png', 'jpeg'], include: ['shop/**', 'photo.*'] });
    assert.deepEqual(await files(dest), ['photo.png', 'shop/item.png']);
    // include alone still decides by itself, as it always has.
    assert.deepEqual(resolveOptions({ include: ['**/*'] }).include, ['**/*']);
  });

  test('any takes every format this sharp reads and leaves out the rest', async () => {
    const dest = out();
    const s = await convert({ source: src, destination: dest, from: 'any', to: 'png' });
    const expected = ['banner.png', 'hero.png', 'logo.png', 'photo.png', 'scan.png', 'shop/item.png', 'spinner.png'];
    // HEIC photos are taken only when this sharp can decode HEVC (the prebuilt one cannot).
    if (readsHevc()) expected.push('phone.png');
    assert.deepEqual(await files(dest), expected.sort());
    assert.equal(s.counts.failed, 0);
  });

  test('an unknown format is refused in the one error shape before any work', () => {
    assert.throws(() => resolveOptions({ from: 'bmp' }), /^UsageError: Expected one of jpeg, png, webp, tiff, gif, avif, heif, any for from but received "bmp"$/);
  });

  test('a HEIC photo (HEVC) fails with its own code and says why when this sharp cannot decode HEVC', async (t) => {
    if (readsHevc()) return t.skip('this sharp decodes HEVC');
    const meta = await sharp(HEVC_HEIC).metadata();
    assert.equal(meta.compression, 'hevc', 'the fixture is a real HEVC-compressed HEIF');
    const s = await convert({ source: src, destination: out(), from: 'heif' });
    assert.deepEqual(s.counts, { total: 1, converted: 0, skipped: 0, failed: 1 });
    assert.equal(s.failures[0]!.code, 'UNSUPPORTED_FORMAT');
    assert.match(s.failures[0]!.message, /HEVC.*AVIF only/);
  });
});

describe('animations', () => {
  test('an animated GIF converted to WebP keeps every frame and its timing', async () => {
    const dest = out();
    await convert({ source: src, destination: dest, from: 'gif', to: 'webp', quality: 100 });
    const meta = await sharp(join(dest, 'spinner.webp')).metadata();
    assert.equal(meta.pages, 3);
    assert.deepEqual(meta.delay, [100, 200, 300]);
    assert.equal(meta.loop, 0);
    const { data, info } = await sharp(join(dest, 'spinner.webp'), { animated: true }).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.height, 18, 'three 6-pixel frames');
    const at = (y: number) => [...data.subarray(y * 8 * info.channels, y * 8 * info.channels + 3)];
    assert.ok(near(at(0), [255, 0, 0], 8) && near(at(6), [0, 255, 0], 8) && near(at(12), [0, 0, 255], 8), `frames: ${at(0)} ${at(6)} ${at(12)}`);
  });

  test('an animated GIF converted to PNG gives its first frame', async () => {
    const dest = out();
    await convert({ source: src, destination: dest, from: 'gif', to: 'png' });
    const meta = await sharp(join(dest, 'spinner.png')).metadata();
    assert.equal(meta.pages ?? 1, 1);
    assert.equal(meta.height, 6);
    assert.deepEqual(await pixel(join(dest, 'spinner.png'), 0, 0), [255, 0, 0]);
  });
});

describe('transparency going to JPEG', () => {
  test('transparent pixels become white by default, and opaque ones keep their colour', async () => {
    const dest = out();
    await convert({ source: src, destination: dest, from: 'png', include: ['logo.png'], to: 'jpeg', quality: 95 });
    const file = join(dest, 'logo.jpg');
    assert.ok(near(await pixel(file, 8, 14), [255, 255, 255]), `transparent pixel: ${await pixel(file, 8, 14)}`);
    assert.ok(near(await pixel(file, 8, 2), [255, 0, 0], 6), `opaque pixel: ${await pixel(file, 8, 2)}`);
  });

  test('--background gives the colour, and the spec records it so a new colour converts again', async () => {
    const dest = out();
    const first = await convert({ source: src, destination: dest, from: 'png', include: ['logo.png'], to: 'jpeg', quality: 95, background: 'rgb(0,255,0)' });
    assert.equal(first.spec?.background, '#00FF00');
    assert.ok(near(await pixel(join(dest, 'logo.jpg'), 8, 14), [0, 255, 0], 6));
    const again = await convert({ source: src, destination: dest, from: 'png', include: ['logo.png'], to: 'jpeg', quality: 95, background: 'black' });
    assert.equal(again.counts.converted, 1);
    assert.ok(near(await pixel(join(dest, 'logo.jpg'), 8, 14), [0, 0, 0]));
  });

  test('a colour that cannot be read, or is not opaque, or a background for a format with alpha is refused', () => {
    assert.throws(() => resolveOptions({ to: 'jpeg', background: 'whiteish' }), /^UsageError: Expected an opaque colour .* for background but received "whiteish"$/);
    assert.throws(() => resolveOptions({ to: 'jpeg', background: '#ffffff80' }), /for background but received "#ffffff80"/);
    assert.throws(() => resolveOptions({ to: 'png', background: 'white' }), /--background only with --to jpeg/);
  });
});

describe('pixbatch convert --from and --background', () => {
  test('--from on the command line and convert.from in the config file select the same way', async () => {
    const flag = await runPixbatch(['convert', src, out(), '--from', 'webp', '--from', 'tiff', '--json', '-q']);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal((jsonFrom(flag, { whole: true }) as Summary).counts.converted, 2);
    const config = join(root, 'pixbatch.config.json');
    await writeFile(config, JSON.stringify({ convert: { from: ['png'], background: 'black' } }));
    const dest = out();
    const file = await runPixbatch(['convert', src, dest, '--config', config, '--to', 'jpeg', '--json', '-q']);
    assert.equal(file.code, 0, file.stderr);
    assert.deepEqual(await files(dest), ['logo.jpg', 'shop/item.jpg']);
    assert.equal((jsonFrom(file, { whole: true }) as Summary).spec?.background, '#000000');
  });

  test('a config file with an unknown format under convert.from is refused, naming the field', async () => {
    const config = join(root, 'bad.config.json');
    await writeFile(config, JSON.stringify({ convert: { from: ['png', 'bmp'] } }));
    await assert.rejects(readConfigFile(config), /convert\.from\.1: expected one of jpeg, png, webp, tiff, gif, avif, heif, any$/);
  });

  test('a bad --background or --from is one line naming the flag, exit 2', async () => {
    for (const args of [['--to', 'jpeg', '--background', 'nope'], ['--from', 'bmp']]) {
      const r = await runPixbatch(['convert', src, out(), ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^pixbatch: Expected .* for (background|from) but received/);
    }
  });
});
