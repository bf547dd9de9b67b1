// pixbatch's own PNG encoder (build/Release/pixpng.node): every colour type and level gives a PNG that a
// strict reader accepts (chunk CRCs, zlib header and Adler-32 checked here, byte by byte) and that
// sharp decodes back to the same pixels; the loader finds the addon in a checkout, an installed
// package and the Batch bundle, and says why when it cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { encodePixpng, loadPixpng, pixpngStatus, releaseBuffer, PIXPNG_RELATIVE_PATH } from '../src/convert/pixpng.js';
import { paintPicture } from '../src/generate/picture.js';
import { Random } from '../src/generate/random.js';
import { BUNDLE_NODE, BUNDLE_SCRIPT } from '../src/batch/bundle.js';
import { testBundle } from './batch-e2e-setup.js';
import { levelOnePictures } from './harness/level-one-pictures.js';
import { crc32 } from './harness/crc32.js';
import { jsonFrom } from './harness/cli.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/images/', import.meta.url));

const status = pixpngStatus();
const skip = status.loaded ? false : `the native PNG encoder is not built here: ${status.reason}`;

type Channels = 1 | 2 | 3 | 4;
const CHANNELS: Channels[] = [1, 2, 3, 4];
const LEVELS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
/** PNG colour type by channel count: grey, grey+alpha, RGB, RGBA. */
const COLOUR_TYPE: Record<Channels, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Reads the PNG as a strict decoder would: signature, every chunk's length and CRC, IHDR first with
 * the expected size, 8-bit depth and colour type, contiguous IDATs holding one zlib stream whose
 * Adler-32 matches, IEND last with nothing after it, one valid filter byte per row.
 */
function checkPng(png: Buffer, width: number, height: number, channels: Channels, label: string): void {
  assert.ok(png.subarray(0, 8).equals(SIGNATURE), `${label}: PNG signature`);
  const chunks: Array<{ type: string; data: Buffer; at: number }> = [];
  let off = 8;
  while (off < png.length) {
    assert.ok(off + 12 <= png.length, `${label}: chunk header at ${off} runs past the end`);
    const length = png.readUInt32BE(off);
    assert.ok(length < 2 ** 31 && off + 12 + length <= png.length, `${label}: chunk at ${off} runs past the end`);
    const type = png.toString('latin1', off + 4, off + 8);
    assert.match(type, /^[A-Za-z]{4}$/, `${label}: chunk type at ${off}`);
    assert.equal(png.readUInt32BE(off + 8 + length), crc32(png.subarray(off + 4, off + 8 + length)), `${label}: CRC of ${type} at ${off}`);
    chunks.push({ type, data: png.subarray(off + 8, off + 8 + length), at: off });
    off += 12 + length;
  }
  assert.equal(off, png.length, `${label}: bytes after the last chunk`);

  assert.equal(chunks[0]?.type, 'IHDR', `${label}: IHDR comes first`);
  assert.equal(chunks[0].data.length, 13, `${label}: IHDR length`);
  assert.equal(png.readUInt32BE(16), width, `${label}: IHDR width`);
  assert.equal(png.readUInt32BE(20), height, `${label}: IHDR height`);
  assert.equal(png[24], 8, `${label}: IHDR bit depth`);
  assert.equal(png[25], COLOUR_TYPE[channels], `${label}: IHDR colour type`);
  assert.deepEqual([png[26], png[27], png[28]], [0, 0, 0], `${label}: IHDR compression, filter and interlace methods`);
  const last = chunks.at(-1)!;
  assert.equal(last.type, 'IEND', `${label}: IEND comes last`);
  assert.equal(last.data.length, 0, `${label}: IEND is empty`);
  for (const c of chunks.slice(1, -1)) {
    // An unknown critical chunk (upper-case first letter) makes a decoder give up.
    assert.ok(c.type === 'IDAT' || c.type === 'PLTE' || /^[a-z]/.test(c.type), `${label}: unexpected critical chunk ${c.type}`);
    assert.notEqual(c.type, 'PLTE', `${label}: no palette for an 8-bit ${channels}-channel image`);
  }
  const idats = chunks.map((c, i) => ({ ...c, i })).filter((c) => c.type === 'IDAT');
  assert.ok(idats.length > 0, `${label}: at least one IDAT`);
  assert.equal(idats.at(-1)!.i - idats[0]!.i + 1, idats.length, `${label}: IDAT chunks are consecutive`);

  const z = Buffer.concat(idats.map((c) => c.data));
  assert.equal(z[0]! & 0x0f, 8, `${label}: zlib method is deflate`);
  assert.ok(z[0]! >> 4 <= 7, `${label}: zlib window at most 32 KiB`);
  assert.equal(((z[0]! << 8) | z[1]!) % 31, 0, `${label}: zlib header check bits`);
  assert.equal(z[1]! & 0x20, 0, `${label}: no preset dictionary`);
  const raw = inflateSync(z); // throws on a bad Adler-32 or a broken stream
  assert.equal(z.readUInt32BE(z.length - 4), adler32(raw), `${label}: Adler-32 ends the IDAT data`);
  const stride = 1 + width * channels;
  assert.equal(raw.length, height * stride, `${label}: inflated size is one filter byte plus a row per row`);
  for (let y = 0; y < height; y++) assert.ok(raw[y * stride]! <= 4, `${label}: filter type of row ${y}`);
}

/** The pixels sharp decodes, with grey (+alpha) kept at 1 (2) channels: sharp widens them to sRGB. */
async function decode(png: Buffer, channels: Channels, label: string): Promise<Buffer> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  if (channels >= 3) {
    assert.equal(info.channels, channels, `${label}: decoded channels`);
    return data;
  }
  assert.equal(info.channels, channels + 2, `${label}: decoded channels`);
  const pixels = info.width * info.height;
  const out = Buffer.alloc(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const s = p * info.channels;
    assert.ok(data[s] === data[s + 1] && data[s] === data[s + 2], `${label}: grey pixel ${p} decodes to grey`);
    out[p * channels] = data[s]!;
    if (channels === 2) out[p * 2 + 1] = data[s + 3]!;
  }
  return out;
}

function assertSamePixels(actual: Buffer, expected: Buffer, label: string): void {
  if (actual.equals(expected)) return;
  const at = actual.findIndex((v, i) => v !== expected[i]);
  assert.fail(`${label}: decoded pixels differ (${actual.length} vs ${expected.length} bytes; first difference at byte ${at}: ${actual[at]} vs ${expected[at]})`);
}

/** Encodes at one level and checks the PNG byte by byte, what sharp's metadata says, and the pixels it decodes. */
async function roundTrip(pixels: Buffer, width: number, height: number, channels: Channels, level: number, what: string): Promise<void> {
  const label = `${what} ${width}x${height} channels=${channels} level=${level}`;
  const png = await encodePixpng(pixels, width, height, channels, level);
  assert.ok(Buffer.isBuffer(png), `${label}: a Buffer`);
  checkPng(png, width, height, channels, label);
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png', `${label}: format`);
  assert.deepEqual([meta.width, meta.height], [width, height], `${label}: size`);
  assert.equal(meta.depth, 'uchar', `${label}: 8-bit`);
  assert.equal(meta.channels, channels, `${label}: channels`);
  assert.equal(meta.hasAlpha, channels % 2 === 0, `${label}: alpha`);
  assert.equal(meta.space, channels <= 2 ? 'b-w' : 'srgb', `${label}: colour space`);
  assertSamePixels(await decode(png, channels, label), pixels, label);
}

async function everyChannelAndLevel(image: (channels: Channels) => Buffer, width: number, height: number, what: string): Promise<void> {
  for (const channels of CHANNELS) {
    const pixels = image(channels);
    for (const level of LEVELS) await roundTrip(pixels, width, height, channels, level, what);
  }
}

function randomPixels(width: number, height: number, channels: number, seed: number): Buffer {
  const rng = new Random(seed);
  const out = Buffer.alloc(width * height * channels);
  for (let i = 0; i < out.length; i++) out[i] = rng.uint32() & 0xff;
  return out;
}

/** The same picture as grey, grey+alpha, RGB or RGBA, alpha varying with the content. */
function fromRgb(rgb: Buffer, channels: Channels): Buffer {
  if (channels === 3) return rgb;
  const pixels = rgb.length / 3;
  const out = Buffer.alloc(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const r = rgb[p * 3]!;
    const g = rgb[p * 3 + 1]!;
    const b = rgb[p * 3 + 2]!;
    const alpha = 255 - ((r + 2 * g + b) >> 2);
    if (channels === 4) {
      out[p * 4] = r;
      out[p * 4 + 1] = g;
      out[p * 4 + 2] = b;
      out[p * 4 + 3] = alpha;
    } else {
      const grey = (r * 77 + g * 150 + b * 29) >> 8;
      out[p * channels] = grey;
      if (channels === 2) out[p * 2 + 1] = alpha;
    }
  }
  return out;
}

test('the native encoder loads wherever the build is required to have made it (PIXBATCH_REQUIRE_NATIVE=1)', {
  skip: process.env.PIXBATCH_REQUIRE_NATIVE !== '1' && !status.loaded ? `not required here, and not built: ${status.reason}` : false,
}, () => {
  assert.ok(status.loaded, `pixpng did not load: ${status.reason}`);
  assert.equal(status.path, join(ROOT, PIXPNG_RELATIVE_PATH));
  assert.equal(typeof loadPixpng()?.encode, 'function');
});

test('small random images of odd sizes round-trip exactly at every channel count and level', { skip }, async () => {
  const sizes: Array<[number, number]> = [[1, 1], [1, 37], [37, 1], [17, 13], [33, 7], [100, 3], [255, 2]];
  for (const [i, [w, h]] of sizes.entries()) {
    await everyChannelAndLevel((c) => randomPixels(w, h, c, 100 + i * 4 + c), w, h, 'random');
  }
});

test('a gradient and a flat image round-trip exactly at every channel count and level', { skip }, async () => {
  const [gw, gh] = [301, 97];
  await everyChannelAndLevel(
    (c) => {
      const out = Buffer.alloc(gw * gh * c);
      for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) for (let k = 0; k < c; k++) out[(y * gw + x) * c + k] = Math.round((x * 255) / (gw - 1) + k * y) & 0xff;
      return out;
    },
    gw,
    gh,
    'gradient',
  );
  const [fw, fh] = [203, 150];
  const flat: Record<Channels, number[]> = { 1: [90], 2: [90, 128], 3: [200, 120, 40], 4: [200, 120, 40, 255] };
  await everyChannelAndLevel((c) => Buffer.alloc(fw * fh * c, Buffer.from(flat[c])), fw, fh, 'flat');
});

test('a JPEG fixture decoded by sharp round-trips exactly at every channel count and level', { skip }, async () => {
  const { data, info } = await sharp(join(FIXTURES, 'plain.jpg')).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  await everyChannelAndLevel((c) => fromRgb(data, c), info.width, info.height, 'plain.jpg');
});

test('a 1 MP photographic image with sensor noise round-trips exactly at every channel count and level', { skip }, async () => {
  const [w, h] = [1200, 850];
  const rgb = paintPicture(w, h, new Random(7), 'pixpng');
  await everyChannelAndLevel((c) => fromRgb(rgb, c), w, h, 'photo');
});

test('a Buffer that is a view into a larger allocation encodes only its own bytes', { skip }, async () => {
  const [w, h] = [29, 11];
  const big = randomPixels(w * h * 3 + 64, 1, 1, 5);
  const view = big.subarray(32, 32 + w * h * 3);
  await roundTrip(view, w, h, 3, 6, 'view');
});

test('bad arguments throw TypeError before any work starts', { skip }, () => {
  const px = Buffer.alloc(4 * 3 * 3);
  assert.throws(() => encodePixpng('not pixels' as unknown as Buffer, 4, 3, 3, 6), TypeError);
  assert.throws(() => encodePixpng(new Array(36).fill(0) as unknown as Buffer, 4, 3, 3, 6), TypeError);
  assert.throws(() => encodePixpng(px, 4, 3, 4, 6), TypeError, 'too few bytes for RGBA');
  assert.throws(() => encodePixpng(px, 4, 3, 2, 6), TypeError, 'too many bytes for grey+alpha');
  assert.throws(() => encodePixpng(px.subarray(1), 4, 3, 3, 6), TypeError, 'one byte short');
  assert.throws(() => encodePixpng(Buffer.alloc(0), 4, 3, 0 as Channels, 6), TypeError, 'channels 0');
  assert.throws(() => encodePixpng(Buffer.alloc(4 * 3 * 5), 4, 3, 5 as Channels, 6), TypeError, 'channels 5');
});

test('eight encodes at once each return a correct PNG of their own image and leave the input untouched', { skip }, async () => {
  const [w, h] = [320, 240];
  const jobs = Array.from({ length: 8 }, (_, i) => {
    const channels = CHANNELS[i % 4]!;
    const pixels = fromRgb(paintPicture(w, h, new Random(50 + i), `job ${i}`), channels);
    return { channels, pixels, copy: Buffer.from(pixels), level: 1 + i };
  });
  const pngs = await Promise.all(jobs.map((j) => encodePixpng(j.pixels, w, h, j.channels, j.level)));
  for (const [i, j] of jobs.entries()) {
    const label = `job ${i} channels=${j.channels} level=${j.level}`;
    assert.ok(j.pixels.equals(j.copy), `${label}: input untouched`);
    checkPng(pngs[i]!, w, h, j.channels, label);
    assertSamePixels(await decode(pngs[i]!, j.channels, label), j.copy, label);
  }
});

test('with consume, the pixels are freed once encoded and the PNG still holds them; a view is never freed', { skip }, async () => {
  const [w, h] = [97, 41];
  // A Buffer with memory of its own, as sharp's pixels are (Buffer.allocUnsafe can hand out a slice
  // of a shared pool, which is never freed; on Node 24 even at this size).
  const painted = fromRgb(paintPicture(w, h, new Random(61), 'consume'), 3);
  const pixels = Buffer.alloc(painted.length);
  painted.copy(pixels);
  const copy = Buffer.from(pixels);
  const png = await encodePixpng(pixels, w, h, 3, 1, true);
  assert.equal(pixels.length, 0, 'the pixel Buffer is left empty');
  checkPng(png, w, h, 3, 'consumed');
  assertSamePixels(await decode(png, 3, 'consumed'), copy, 'consumed');
  // A Buffer sharing its memory (here a view into a larger one) is encoded and left as it was.
  const big = randomPixels(w * h * 3 + 64, 1, 1, 6);
  const view = big.subarray(32, 32 + w * h * 3);
  const viewCopy = Buffer.from(view);
  checkPng(await encodePixpng(view, w, h, 3, 1, true), w, h, 3, 'view');
  assert.ok(view.equals(viewCopy) && big.length === w * h * 3 + 64, 'a view is not freed');
});

test('releaseBuffer frees a written PNG now and leaves a Buffer that shares its memory alone', { skip }, async () => {
  const png = await encodePixpng(randomPixels(16, 16, 3, 7), 16, 16, 3, 6);
  assert.ok(png.length > 0);
  assert.equal(releaseBuffer(png), true);
  assert.equal(png.length, 0);
  assert.equal(releaseBuffer(png), false, 'already empty');
  const pooled = Buffer.from('shared pool'); // a slice of Node's shared allocation
  assert.equal(releaseBuffer(pooled), false);
  assert.equal(pooled.toString(), 'shared pool');
});

/** Runs a module in a fresh process (the loader remembers its answer per process) and parses the last line it prints as JSON. */
async function childJson<T>(node: string, script: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<T> {
  return jsonFrom<T>(await run(node, [...(/\.m?ts$/.test(script) ? ['--import', 'tsx'] : []), script, ...args], { cwd: ROOT, env: { ...process.env, ...env } }), { what: script });
}

type Status = { loaded: boolean; path?: string; reason?: string };

test('the baseline x86 paths (PIXBATCH_NO_AVX2=1: SSE2 filters, table CRC) write the same bytes as the default ones', { skip }, async () => {
  // Filter choice, deflate and checksums are deterministic, so every path must give identical
  // files; on a CPU with AVX2 and PCLMUL this compares two different implementations.
  const [w, h] = [611, 203]; // rows that are not a multiple of any vector width
  const cases = [
    { channels: 3, level: 1 },
    { channels: 4, level: 3 },
    { channels: 1, level: 6 },
  ] as const;
  const script = [
    `import { createHash } from 'node:crypto';`,
    `import { encodePixpng } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'convert', 'pixpng.ts')).href)};`,
    `import { paintPicture } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'generate', 'picture.ts')).href)};`,
    `import { Random } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'generate', 'random.ts')).href)};`,
    `const rgb = paintPicture(${w}, ${h}, new Random(11), 'paths');`,
    `const out = [];`,
    `for (const { channels, level } of ${JSON.stringify(cases)}) {`,
    `  const px = Buffer.alloc(${w * h} * channels);`,
    `  for (let p = 0; p < ${w * h}; p++) for (let k = 0; k < channels; k++) px[p * channels + k] = rgb[p * 3 + (k % 3)] ^ (k * 37);`,
    `  out.push(createHash('sha256').update(await encodePixpng(px, ${w}, ${h}, channels, level)).digest('hex'));`,
    `}`,
    `console.log(JSON.stringify(out));`,
  ].join('\n');
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-pixpng-paths-'));
  try {
    await writeFile(join(dir, 'paths.mts'), script);
    const hashes = (env: NodeJS.ProcessEnv) => childJson<string[]>(process.execPath, join(dir, 'paths.mts'), env);
    const [fast, baseline] = await Promise.all([hashes({}), hashes({ PIXBATCH_NO_AVX2: '1' })]);
    assert.equal(fast.length, cases.length);
    assert.deepEqual(baseline, fast);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;

test('tuneAllocator tunes a young process on glibc, and leaves one alone once its threads have allocated or when the environment sets the allocator', {
  skip: skip || (glibc ? false : 'the allocator is only tuned on glibc'),
}, async () => {
  // Plain .mjs children: a TypeScript loader runs on a thread of its own, which already makes the
  // process look old.
  const addon = JSON.stringify(join(ROOT, PIXPNG_RELATIVE_PATH));
  // Inside the package, so that its scripts can import 'pixbatch/allocator' by the package's own name.
  await mkdir(join(ROOT, 'test-artifacts'), { recursive: true });
  const dir = await mkdtemp(join(ROOT, 'test-artifacts', 'allocator-'));
  const write = async (name: string, body: string[]) => {
    const file = join(dir, name);
    await writeFile(file, [`import { createRequire } from 'node:module';`, `const require = createRequire(${JSON.stringify(ROOT)});`, ...body].join('\n'));
    return file;
  };
  try {
    // What the library's tuneAllocator() passes: whether libuv names its pool threads (1.51 on).
    const named = `((v) => v[0] > 1 || (v[0] === 1 && v[1] >= 51))(process.versions.uv.split('.').map(Number))`;
    const young = await write('young.mjs', [`const b = require(${addon});`, `console.log(JSON.stringify([b.tuneAllocator(${named}), b.tuneAllocator(${named})]));`]);
    // The library's way, through the package's own name (dist/, built at install).
    const library = await write('library.mjs', [
      `const { tuneAllocator, capYoungGeneration } = await import('pixbatch/allocator');`,
      `const first = tuneAllocator();`,
      `const young = capYoungGeneration();`,
      `const { convert, pixpngStatus } = await import('pixbatch');`,
      `console.log(JSON.stringify([first, typeof convert, pixpngStatus().allocator, young]));`,
    ]);
    const old = await write('old.mjs', [
      `const sharp = require('sharp');`,
      `const img = { create: { width: 400, height: 300, channels: 3, background: '#808080' } };`,
      `await Promise.all(Array.from({ length: 8 }, () => sharp(img).png().toBuffer()));`,
      `console.log(JSON.stringify(require(${addon}).tuneAllocator(${named})));`,
    ]);
    const tuned = 'tuned for bulk conversion';
    const fromEnv = 'default (the environment sets the allocator)';
    const [first, viaLibrary, arenaMax, tunables, late] = await Promise.all([
      childJson<string[]>(process.execPath, young),
      // dist/ is built by `npm install` (prepare); a checkout that has not built it skips this one.
      existsSync(join(ROOT, 'dist', 'allocator.js')) ? childJson<string[]>(process.execPath, library) : Promise.resolve(undefined),
      childJson<string[]>(process.execPath, young, { MALLOC_ARENA_MAX: '4' }),
      childJson<string[]>(process.execPath, young, { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' }),
      childJson<string>(process.execPath, old),
    ]);
    assert.deepEqual(first, [tuned, tuned]);
    if (viaLibrary) assert.deepEqual(viaLibrary, [tuned, 'function', tuned, 'kept at its starting size']);
    assert.deepEqual(arenaMax, [fromEnv, fromEnv]);
    assert.deepEqual(tunables, [fromEnv, fromEnv]);
    assert.equal(late, 'default (called after the thread pools started)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('level 1 codes a photograph-like picture byte by byte and a drawn one with string matching, and both round-trip', { skip }, async () => {
  // PIXBATCH_PIXPNG_MATCHING forces one way (read once per process, hence the child processes);
  // without it, level 1 chooses per image from a sample. Each forced way must give a correct PNG
  // at every channel count, and the choice must be the one that the sizes call for.
  const script = [
    `import { writeFile } from 'node:fs/promises';`,
    `import { encodePixpng } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'convert', 'pixpng.ts')).href)};`,
    `import { levelOnePictures } from ${JSON.stringify(pathToFileURL(join(ROOT, 'test', 'harness', 'level-one-pictures.ts')).href)};`,
    `const sizes = {};`,
    `for (const channels of [1, 2, 3, 4]) {`,
    `  const pictures = levelOnePictures(channels);`,
    `  for (const name of ['noisy', 'drawn']) {`,
    `    const png = await encodePixpng(pictures[name], 640, 400, channels, 1);`,
    `    await writeFile(process.argv[2] + '/' + name + '-' + channels + '.png', png);`,
    `    sizes[name + '-' + channels] = png.length;`,
    `  }`,
    `}`,
    `console.log(JSON.stringify(sizes));`,
  ].join('\n');
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-pixpng-level1-'));
  try {
    await writeFile(join(dir, 'level1.mts'), script);
    const modes = ['auto', 'always', 'never'] as const;
    for (const m of modes) await mkdir(join(dir, m));
    const sizes = await Promise.all(
      modes.map((m) => childJson<Record<string, number>>(process.execPath, join(dir, 'level1.mts'), m === 'auto' ? {} : { PIXBATCH_PIXPNG_MATCHING: m }, [join(dir, m)])),
    );
    const [auto, always, never] = sizes as [Record<string, number>, Record<string, number>, Record<string, number>];
    for (const channels of CHANNELS) {
      const pictures = levelOnePictures(channels);
      for (const name of ['noisy', 'drawn'] as const) {
        const key = `${name}-${channels}`;
        const [a, m, n] = await Promise.all(modes.map((mode) => readFile(join(dir, mode, `${key}.png`))));
        for (const [i, png] of [a!, m!, n!].entries()) {
          const label = `${modes[i]} ${key}.png`;
          checkPng(png, 640, 400, channels, label);
          assertSamePixels(await decode(png, channels, label), pictures[name], label);
        }
        // The two ways give different streams, and the choice is one of them.
        assert.ok(!m!.equals(n!), `${key}: matching and literal coding wrote the same bytes`);
        const sizeNote = `${key}: literal ${never[key]} vs matched ${always[key]}`;
        if (name === 'noisy') {
          assert.ok(never[key]! <= always[key]! * 1.12, sizeNote);
          assert.ok(a!.equals(n!), `${key}: chose matching for a picture where it saves little`);
        } else {
          assert.ok(never[key]! > always[key]! * 1.3, sizeNote);
          assert.ok(a!.equals(m!), `${key}: chose literal coding for a picture where matching pays`);
        }
      }
    }
    assert.equal(Object.keys(auto).length, 8);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the loader reports why it is not used: turned off, not built, build failed, or not loadable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-pixpng-'));
  try {
    // A copy of the package's layout: package.json at the root, the loader two levels down.
    const pkg = join(dir, 'pkg');
    await mkdir(join(pkg, 'src', 'convert'), { recursive: true });
    await writeFile(join(pkg, 'package.json'), '{ "name": "pixbatch", "type": "module" }\n');
    await copyFile(join(ROOT, 'src', 'convert', 'pixpng.ts'), join(pkg, 'src', 'convert', 'pixpng.ts'));
    const probe = (module: string) => `import { loadPixpng, pixpngStatus } from ${JSON.stringify(module)};\nconst s = pixpngStatus();\nif ((loadPixpng() !== undefined) !== s.loaded) throw new Error('loadPixpng and pixpngStatus disagree');\nconsole.log(JSON.stringify(s));\n`;
    await writeFile(join(dir, 'copy.ts'), probe(pathToFileURL(join(pkg, 'src', 'convert', 'pixpng.ts')).href));
    await writeFile(join(dir, 'repo.ts'), probe(pathToFileURL(join(ROOT, 'src', 'convert', 'pixpng.ts')).href));

    const off = await childJson<Status>(process.execPath, join(dir, 'repo.ts'), { PIXBATCH_NATIVE: '0' });
    assert.equal(off.loaded, false);
    assert.match(off.reason ?? '', /PIXBATCH_NATIVE=0/);

    const missing = await childJson<Status>(process.execPath, join(dir, 'copy.ts'));
    assert.equal(missing.loaded, false);
    assert.equal(missing.path, join(pkg, PIXPNG_RELATIVE_PATH));
    assert.match(missing.reason ?? '', /not built \(needs a C compiler/);

    await mkdir(join(pkg, 'build', 'Release'), { recursive: true });
    await writeFile(join(pkg, 'build', 'pixpng-build.log'), 'make: cc: No such file or directory\n');
    const failed = await childJson<Status>(process.execPath, join(dir, 'copy.ts'));
    assert.equal(failed.loaded, false);
    assert.ok(failed.reason?.includes(join(pkg, 'build', 'pixpng-build.log')), `the reason points at the build log: ${failed.reason}`);


    await writeFile(join(pkg, PIXPNG_RELATIVE_PATH), 'not a shared library');
    const broken = await childJson<Status>(process.execPath, join(dir, 'copy.ts'));
    assert.equal(broken.loaded, false);
    assert.match(broken.reason ?? '', /failed to load/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the compiled loader in dist/ finds the addon at the package root', {
  skip: skip || (existsSync(join(ROOT, 'dist', 'convert', 'pixpng.js')) ? false : 'dist/convert/pixpng.js is not built (npm run build)'),
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-pixpng-dist-'));
  try {
    const module = pathToFileURL(join(ROOT, 'dist', 'convert', 'pixpng.js')).href;
    await writeFile(join(dir, 'probe.mjs'), `import { pixpngStatus } from ${JSON.stringify(module)};\nconsole.log(JSON.stringify(pixpngStatus()));\n`);
    const s = await childJson<Status>(process.execPath, join(dir, 'probe.mjs'));
    assert.ok(s.loaded, `not loaded from dist/: ${s.reason}`);
    assert.equal(s.path, join(ROOT, PIXPNG_RELATIVE_PATH));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the Batch bundle carries the addon, its Node loads it, and the bundled loader finds it', { skip }, async () => {
  const bundle = await testBundle();
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-pixpng-bundle-'));
  try {
    await run('tar', ['-xzf', bundle.file, '-C', dir, BUNDLE_NODE, BUNDLE_SCRIPT, 'package.json', PIXPNG_RELATIVE_PATH]);
    assert.ok((await readFile(join(dir, PIXPNG_RELATIVE_PATH))).equals(await readFile(join(ROOT, PIXPNG_RELATIVE_PATH))), 'the bundle holds the addon built here');
    // The loader bundled as the bundle's script is (one ESM file in app/), run by the bundle's own Node.
    const { build } = await import('esbuild');
    const probe = join(dir, 'app', 'probe.mjs');
    await build({
      stdin: {
        contents: `import { encodePixpng, pixpngStatus } from ${JSON.stringify(join(ROOT, 'src', 'convert', 'pixpng.ts'))};\nconst png = await encodePixpng(Buffer.alloc(12, 9), 2, 2, 3, 6);\nconsole.log(JSON.stringify({ ...pixpngStatus(), png: png.toString('base64'), node: process.version }));\n`,
        resolveDir: ROOT,
        loader: 'ts',
      },
      outfile: probe,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
    });
    const s = jsonFrom(await run(join(dir, BUNDLE_NODE), [probe], { cwd: dir }), { what: 'the probe under the bundle\'s Node', whole: true }) as { loaded: boolean; path: string; reason?: string; png: string; node: string };
    assert.ok(s.loaded, `not loaded in the bundle: ${s.reason}`);
    assert.equal(s.path, join(dir, PIXPNG_RELATIVE_PATH));
    assert.ok(s.node.startsWith('v22.'), `the bundle's Node runs it (${s.node})`);
    const png = Buffer.from(s.png, 'base64');
    checkPng(png, 2, 2, 3, 'bundle');
    assertSamePixels(await decode(png, 3, 'bundle'), Buffer.alloc(12, 9), 'bundle');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
