import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { describesSrgb } from '../src/convert/icc.js';
import { convertImage } from '../src/convert/image.js';
import { ADOBE_RGB_D50, SRGB_D50, curveTable, everyColour, rgbProfile, srgbToLinear, withIccChunk } from './harness/icc-profiles.js';

const SRGB_TABLE = { table: curveTable(srgbToLinear) };
const shifted = (d: number) => SRGB_D50.map((row, i) => row.map((v, j) => (i === j ? v + d : v)));
// Made like the sRGB profiles images carry: HP's (1024-entry curves), a v4-style parametric one,
// and one whose colorants are 0.0003 off, as GIMP's built-in sRGB is.
const HP_LIKE = rgbProfile({ colorants: SRGB_D50, curves: SRGB_TABLE, description: 'sRGB IEC61966-2.1' });
const PARAMETRIC = rgbProfile({ colorants: SRGB_D50, curves: { sRGBParametric: true } });
const GIMP_LIKE = rgbProfile({ colorants: shifted(0.0003), curves: SRGB_TABLE });
const ADOBE = rgbProfile({ colorants: ADOBE_RGB_D50, curves: { gamma: 2.2 }, description: 'Adobe RGB (1998)' });

// A profile whose tag table names each tag twice, `first`'s tags pointing at `first`'s data and
// then `second`'s: the colour engine reads the first of each, so it would convert with `first`.
function withTagTwice(second: Buffer, first: Buffer): Buffer {
  const table = (p: Buffer) => Array.from({ length: p.readUInt32BE(128) }, (_, i) => p.subarray(132 + 12 * i, 144 + 12 * i));
  const a = table(first);
  const b = table(second);
  const head = 132 + 12 * (a.length + b.length);
  const firstData = first.subarray(132 + 12 * a.length);
  const secondData = second.subarray(132 + 12 * b.length);
  const entries = [
    ...a.map((e) => [e.subarray(0, 4), e.readUInt32BE(4) - (132 + 12 * a.length) + head, e.readUInt32BE(8)] as const),
    ...b.map((e) => [e.subarray(0, 4), e.readUInt32BE(4) - (132 + 12 * b.length) + head + firstData.length, e.readUInt32BE(8)] as const),
  ];
  const out = Buffer.concat([first.subarray(0, 128), Buffer.alloc(4 + 12 * entries.length), firstData, secondData]);
  out.writeUInt32BE(out.length, 0);
  out.writeUInt32BE(entries.length, 128);
  entries.forEach(([sig, offset, size], i) => {
    sig.copy(out, 132 + 12 * i);
    out.writeUInt32BE(offset, 136 + 12 * i);
    out.writeUInt32BE(size, 140 + 12 * i);
  });
  return out;
}

// The same bytes with a smaller size in the header, so that the last tags lie past it.
function declaredSize(icc: Buffer, size: number): Buffer {
  const out = Buffer.from(icc);
  out.writeUInt32BE(size, 0);
  return out;
}

async function sharpProfile(name: string): Promise<Buffer> {
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#808080' } }).withIccProfile(name).png().toBuffer();
  return (await sharp(png).metadata()).icc!;
}

test('describesSrgb takes the sRGB profiles images carry for sRGB, and nothing else', async () => {
  for (const [name, icc] of Object.entries({ HP_LIKE, PARAMETRIC, GIMP_LIKE, libvips: await sharpProfile('srgb') })) {
    assert.equal(describesSrgb(icc), true, name);
  }
  const lut = rgbProfile({ colorants: SRGB_D50, curves: SRGB_TABLE, extraTags: { A2B0: Buffer.from('mft2\0\0\0\0', 'latin1') } });
  const notSrgb = {
    adobe: ADOBE,
    displayP3: await sharpProfile('p3'),
    gamma22: rgbProfile({ colorants: SRGB_D50, curves: { gamma: 2.2 } }),
    colorants0005: rgbProfile({ colorants: shifted(0.0005), curves: SRGB_TABLE }),
    // Off by 0.0005 of linear light throughout: nothing in the highlights, 1.6 levels at black.
    curveDarks: rgbProfile({ colorants: SRGB_D50, curves: { table: curveTable((x) => srgbToLinear(x) + 0.0005) } }),
    curveMidtones: rgbProfile({ colorants: SRGB_D50, curves: { table: curveTable((x) => srgbToLinear(x) + 0.003 * x) } }),
    notDisplay: Buffer.concat([HP_LIKE.subarray(0, 12), Buffer.from('link', 'latin1'), HP_LIKE.subarray(16)]),
    tagTwice: withTagTwice(HP_LIKE, rgbProfile({ colorants: ADOBE_RGB_D50, curves: { gamma: 2.2 } })),
    pastDeclaredSize: declaredSize(HP_LIKE, HP_LIKE.length - 100),
    lookupTable: lut, // the colour engine would use the table, whatever the colorants say
    truncated: HP_LIKE.subarray(0, 200),
    garbage: Buffer.alloc(600, 0x41),
  };
  for (const [name, icc] of Object.entries(notSrgb)) assert.equal(describesSrgb(icc), false, name);
});

test('what skipping the colour engine changes for a profile taken for sRGB: a level or two in a few colours; one it refuses would move them further', async () => {
  // Every 8-bit colour, tagged with each profile, through sharp's conversion to sRGB: how far the
  // colour engine moves a colour is what an image tagged that way gains or loses by being kept as
  // decoded. This pins the tolerances in icc.ts to what they mean.
  const raw = everyColour();
  const png = await sharp(raw, { raw: { width: 4096, height: 4096, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  const furthest = async (icc: Buffer) => {
    const out = await sharp(withIccChunk(png, icc)).toColourspace('srgb').raw().toBuffer();
    let max = 0;
    for (let i = 0; i < out.length; i++) max = Math.max(max, Math.abs(out[i]! - raw[i]!));
    return max;
  };
  // A curve a fifth of a level off at every level, inside the tolerance.
  const curveEdge = rgbProfile({ colorants: SRGB_D50, curves: { table: curveTable((x) => srgbToLinear(Math.min(1, x + 0.2 / 255))) } });
  assert.equal(describesSrgb(curveEdge), true);
  for (const [name, icc] of Object.entries({ HP_LIKE, GIMP_LIKE, curveEdge })) assert.ok((await furthest(icc)) <= 1, name);
  assert.ok((await furthest(rgbProfile({ colorants: shifted(0.0005), curves: SRGB_TABLE }))) >= 3);
});

test('an image tagged sRGB converts with its pixels as decoded; one tagged otherwise is converted to sRGB', async () => {
  // Colours that the colour engine moves under the sRGB-like profile, so that the two ways differ.
  const raw = everyColour().subarray(0, 3 * 512 * 512 * 4); // 1,048,576 colours: red 0-15, all green and blue
  const width = 1024;
  const height = 1024;
  const plain = await sharp(raw, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
  const viaEngine = async (icc: Buffer) => sharp(withIccChunk(plain, icc)).toColourspace('srgb').raw().toBuffer();
  assert.notDeepEqual(await viaEngine(HP_LIKE), raw, 'the colour engine moves some of these colours');
  for (const preset of ['fast', 'small'] as const) {
    const spec = { to: 'png' as const, preset, keepMetadata: false };
    const tagged = await convertImage(withIccChunk(plain, HP_LIKE), spec, { maxPixels: 1e8 });
    const pixels = await sharp(tagged.data).raw().toBuffer();
    assert.ok(pixels.equals(raw), `${preset}: sRGB-tagged pixels kept as decoded`);
    const adobe = await convertImage(withIccChunk(plain, ADOBE), spec, { maxPixels: 1e8 });
    const converted = await sharp(adobe.data).raw().toBuffer();
    assert.ok(converted.equals(await viaEngine(ADOBE)), `${preset}: Adobe RGB converted to sRGB`);
    assert.ok(!converted.equals(raw));
  }
});
