// Where the time of one conversion goes: read, decode, colour, encode (per preset), write.
// One image at a time on one libvips thread, timed in CPU time of this process (user + system),
// so the figures are per core and hold on a busy machine.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeRawPng, encodeToBuffer } from '../src/convert/encode.js';
import type { Preset } from '../src/interfaces.js';

export interface StageTimes {
  images: number;
  megapixels: number;
  /** CPU milliseconds per image. */
  read: number;
  decode: number;
  colour: number;
  encode: Record<string, { ms: number; bytes: number }>;
  write: number;
}

/** CPU milliseconds (all threads of this process) since `t`, a `process.cpuUsage()` reading. */
function since(t: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

/** Times each stage on `files` (already on disk), median of the images' per-stage times. */
export async function timeStages(files: string[], presets: Preset[], scratch: string): Promise<StageTimes> {
  const previous = sharp.concurrency();
  sharp.concurrency(1);
  const per: { read: number[]; decode: number[]; colour: number[]; write: number[]; encode: Record<string, { ms: number[]; bytes: number[] }> } = {
    read: [],
    decode: [],
    colour: [],
    write: [],
    encode: Object.fromEntries(presets.map((p) => [p, { ms: [], bytes: [] }])),
  };
  let megapixels = 0;
  try {
    for (const file of files) {
      let t = process.cpuUsage();
      const input = await readFile(file);
      per.read.push(since(t));
      t = process.cpuUsage();
      await sharp(input).raw().toBuffer();
      const decode = since(t);
      per.decode.push(decode);
      t = process.cpuUsage();
      const { data, info } = await sharp(input).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      per.colour.push(Math.max(0, since(t) - decode));
      megapixels = (info.width * info.height) / 1e6;
      let last: Buffer | undefined;
      for (const preset of presets) {
        // The presets that take decoded pixels (pixpng, fdeflate) get them as a conversion hands
        // them over; libpng encodes inside the libvips pipeline, so it is timed from raw input.
        t = process.cpuUsage();
        let out = (await encodeRawPng(data, info.width, info.height, info.channels, preset))?.data;
        if (!out) {
          const raw = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
          t = process.cpuUsage();
          out = (await encodeToBuffer(raw, { to: 'png', preset, keepMetadata: false })).data;
        }
        per.encode[preset]!.ms.push(since(t));
        per.encode[preset]!.bytes.push(out.length);
        last = out;
      }
      t = process.cpuUsage();
      const target = join(scratch, 'stage-write.png');
      await writeFile(target, last!);
      per.write.push(since(t));
      await rm(target, { force: true });
    }
  } finally {
    sharp.concurrency(previous);
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  return {
    images: files.length,
    megapixels,
    read: med(per.read),
    decode: med(per.decode),
    colour: med(per.colour),
    encode: Object.fromEntries(Object.entries(per.encode).map(([p, v]) => [p, { ms: med(v.ms), bytes: med(v.bytes) }])),
    write: med(per.write),
  };
}
