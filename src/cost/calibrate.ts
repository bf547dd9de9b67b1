import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConversionSpec } from '../interfaces.js';
import { DEFAULT_MAX_PIXELS } from '../options.js';
import { convertImage } from '../convert/image.js';

/** The original system's measured speed (5,000 images in ~100 s on 10 two-core nodes), used when nothing better is known. */
export const FALLBACK_PER_CORE_IMAGES_PER_SECOND = 2.5;

export interface Calibration {
  perCoreImagesPerSecond: number;
  /** Output bytes per input byte, when measured on a sample. */
  outputRatio?: number;
  source: 'sample' | 'bench' | 'fallback';
  /** Images measured (sample) or in the bench corpus. */
  images: number;
  /** One line saying where the rate comes from. */
  note: string;
}

export type SampleInput = string | Buffer | { name: string; data: Buffer };

export interface CalibrateOptions {
  maxPixels?: number;
  /** At most this many samples are converted (default 8). */
  maxSamples?: number;
  /** Bench result to fall back on (default `<cwd>/.bench/last.json`). */
  benchFile?: string;
  cwd?: string;
}

async function load(sample: SampleInput): Promise<{ name: string; data: Buffer }> {
  if (typeof sample === 'string') return { name: sample, data: await readFile(sample) };
  if (Buffer.isBuffer(sample)) return { name: 'buffer', data: sample };
  return sample;
}

/** CPU seconds (user + system, all threads) this process used since `start`. */
function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/**
 * Measures images per second per core by converting a small sample of the real images with the
 * real spec, one at a time, timing process CPU time (so libvips' own threads count and other
 * processes on the machine do not). Without usable samples it reads the last bench result, and
 * failing that assumes the original system's 2.5 images/s per core.
 *
 * @example
 * const c = await calibrate(['photos/a.jpg', 'photos/b.jpg'], { to: 'png', preset: 'balanced', keepMetadata: false });
 * estimateCost({ ..., perCoreImagesPerSecond: c.perCoreImagesPerSecond, estimatedBytesOut: bytesIn * (c.outputRatio ?? 1) });
 */
export async function calibrate(sampleFiles: readonly SampleInput[], spec: ConversionSpec, options: CalibrateOptions = {}): Promise<Calibration> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const samples = await Promise.all(sampleFiles.slice(0, options.maxSamples ?? 8).map(load));
  if (samples.length) {
    // The first conversion pays for loading codecs and is not representative: convert it untimed.
    let warmed = false;
    let converted = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    let cpu = 0;
    for (const sample of samples) {
      if (!warmed) {
        warmed = await convertImage(sample.data, spec, { maxPixels }).then(
          () => true,
          () => false,
        );
        if (warmed && samples.length > 1) continue;
      }
      const start = process.cpuUsage();
      try {
        const out = await convertImage(sample.data, spec, { maxPixels });
        cpu += cpuSecondsSince(start);
        converted += 1;
        bytesIn += sample.data.length;
        bytesOut += out.data.length;
      } catch {
        // Broken images are reported by the job itself; they do not tell us the speed.
      }
    }
    if (converted > 0 && cpu > 0) {
      return {
        perCoreImagesPerSecond: converted / cpu,
        outputRatio: bytesIn > 0 ? bytesOut / bytesIn : undefined,
        source: 'sample',
        images: converted,
        note: `measured on ${converted} sample image${converted === 1 ? '' : 's'} (${spec.to}, preset ${spec.preset})`,
      };
    }
  }
  const bench = await fromBench(options.benchFile ?? join(options.cwd ?? process.cwd(), '.bench', 'last.json'), spec);
  if (bench) return bench;
  return {
    perCoreImagesPerSecond: FALLBACK_PER_CORE_IMAGES_PER_SECOND,
    source: 'fallback',
    images: 0,
    note: 'no sample or bench result; assuming 2.5 images/s per core (the original Pillow system)',
  };
}

interface BenchContender {
  id?: string;
  kind?: string;
  imagesPerSecondPerCore?: number;
  bytesOut?: number;
}
interface BenchCorpus {
  corpus?: { label?: string; images?: number; bytesIn?: number };
  contenders?: BenchContender[];
}

/** Reads the per-core rate of pixbatch with the spec's preset from `npm run bench`'s last result. */
export async function fromBench(file: string, spec: ConversionSpec): Promise<Calibration | undefined> {
  let report: { local?: BenchCorpus[]; finishedAt?: string };
  try {
    report = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  for (const corpus of report.local ?? []) {
    const c = (corpus.contenders ?? []).find((x) => x.id === `pixbatch-${spec.preset}`) ?? (corpus.contenders ?? []).find((x) => x.kind === 'pixbatch');
    if (!c || !(typeof c.imagesPerSecondPerCore === 'number' && c.imagesPerSecondPerCore > 0)) continue;
    const bytesIn = corpus.corpus?.bytesIn;
    return {
      perCoreImagesPerSecond: c.imagesPerSecondPerCore,
      ...(bytesIn && c.bytesOut ? { outputRatio: c.bytesOut / bytesIn } : {}),
      source: 'bench',
      images: corpus.corpus?.images ?? 0,
      note: `from the last bench (${corpus.corpus?.label ?? 'local corpus'}, ${c.id ?? 'pixbatch'}${report.finishedAt ? `, ${report.finishedAt.slice(0, 10)}` : ''}; JPEG to PNG)`,
    };
  }
  return undefined;
}
