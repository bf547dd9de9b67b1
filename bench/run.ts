// `npm run bench`: pixbatch against the peers this machine has, on the same generated JPEGs,
// in the same run. Prints a table and writes .bench/last.json.
//
//   npm run bench                      600 images at 800x600 and 20 at 12 MP from `pixbatch generate`,
//                                      8 noisy photo-like ones at 12 MP, every peer found
//   npm run bench -- --quick           a smoke run (100 + 6 + 2 images)
//   npm run bench -- --only local      also: blob, batch (comma-separated); rss (not by default):
//                                      peak RSS converting 1,000 then 10,000 images (--rss-counts)
//   npm run bench -- --only functions  (not by default) 1,000 uploads as Event Grid events through the
//                                      Functions app against convert() blob → blob, on Azurite (--count)
//   npm run bench -- --count 5000 --large-count 0 --rounds 3 --presets fast,balanced
//   npm run bench -- --pixbatch-env MALLOC_ARENA_MAX=2   environment for pixbatch runs only
//   npm run bench -- --only local --telemetry   also each preset with telemetry on (OTLP to a loopback
//                                      sink), and the throughput it costs
//   npm run bench -- --photos DIR      also your own JPEGs (every .jpg/.jpeg under DIR) as a corpus;
//                                      scripts/fetch-bench-photos.sh fetches 37 real photographs
import { existsSync } from 'node:fs';
import { pixpngStatus } from '../src/convert/pixpng.js';
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Preset } from '../src/interfaces.js';
import { listFiles, runLocalBench, type Corpus, type CorpusResult, type TelemetryVariant } from './local.js';
import { measureTelemetryStart, printTelemetryCost } from './telemetry-cost.js';
import { timeStages, type StageTimes } from './stages.js';
import { runRssScaling } from './rss.js';
import { startOtlpReceiver } from '../test/harness/telemetry-sinks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, '.bench');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    count: { type: 'string' },
    'large-count': { type: 'string' },
    'noisy-count': { type: 'string' },
    slices: { type: 'string' },
    rounds: { type: 'string' },
    presets: { type: 'string' },
    'skip-peers': { type: 'string' },
    'pixbatch-env': { type: 'string', multiple: true },
    seed: { type: 'string' },
    'rss-counts': { type: 'string' },
    photos: { type: 'string' },
    telemetry: { type: 'boolean', default: false },
  },
});

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Expected a whole number for --${name} but received "${value}"`);
  return n;
}

const quick = values.quick === true;
const only = new Set((values.only ?? 'local,blob,batch').split(',').map((s) => s.trim()));
const cores = availableParallelism();
const smallCount = int('count', values.count, quick ? 100 : 600);
const largeCount = int('large-count', values['large-count'], quick ? 6 : 20);
const noisyCount = int('noisy-count', values['noisy-count'], quick ? 2 : 8);
const slices = Math.max(1, int('slices', values.slices, 2));
const rounds = Math.max(1, int('rounds', values.rounds, 1));
const seed = int('seed', values.seed, 1);
const presets = (values.presets ?? 'fast,balanced,small').split(',').map((s) => s.trim()) as Preset[];
const pixbatchEnv = Object.fromEntries((values['pixbatch-env'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const log = (line: string) => process.stdout.write(`${line}\n`);

/** Generates (or reuses) one corpus, split in slices of generated JPEGs. */
async function corpus(id: string, label: string, width: number, height: number, count: number, kind: 'generate' | 'noisy' = 'generate'): Promise<Corpus | undefined> {
  if (count === 0) return undefined;
  const { generate } = await import('../src/generate/generate.js');
  const { writeNoisyCorpus } = await import('./noisy-corpus.js');
  const dir = join(benchDir, 'corpus', `${id}-${width}x${height}-${count}-seed${seed}-${slices}`);
  const perSlice = Array.from({ length: slices }, (_, i) => Math.floor(count / slices) + (i < count % slices ? 1 : 0));
  const out: Corpus = { id, label, width, height, slices: [], files: [], bytes: 0 };
  for (let s = 0; s < slices; s++) {
    const sliceDir = join(dir, `slice-${s + 1}`);
    const marker = join(sliceDir, '.complete.json');
    let files: string[];
    let bytes: number;
    if (existsSync(marker)) {
      ({ files, bytes } = JSON.parse(await readFile(marker, 'utf8')) as { files: string[]; bytes: number });
    } else {
      await rm(sliceDir, { recursive: true, force: true });
      const t = performance.now();
      // Each slice has its own seed: different pictures, same kind.
      const r =
        kind === 'noisy'
          ? await writeNoisyCorpus(sliceDir, perSlice[s]!, width, height, seed * 1000 + s)
          : await generate({ destination: sliceDir, count: perSlice[s]!, size: `${width}x${height}`, seed: seed * 1000 + s });
      ({ files, bytes } = r);
      await writeFile(marker, JSON.stringify({ files, bytes }));
      log(`generated ${files.length} images ${width}x${height} in ${((performance.now() - t) / 1000).toFixed(1)} s -> ${sliceDir}`);
    }
    out.slices.push(sliceDir);
    out.files.push(files);
    out.bytes += bytes;
  }
  return out;
}

/**
 * A corpus of the user's own JPEGs: every .jpg/.jpeg under `dir`, copied (sorted by name, dealt
 * round-robin) into slice folders under .bench/corpus, so that every contender reads the same
 * flat folders as with the generated corpora.
 */
async function photoCorpus(dir: string): Promise<Corpus> {
  const sharp = (await import('sharp')).default;
  const found = (await listFiles(dir)).filter((f) => /\.jpe?g$/i.test(f)).sort();
  if (found.length < slices) throw new Error(`Expected at least ${slices} JPEGs under --photos ${dir} but found ${found.length}`);
  const target = join(benchDir, 'corpus', `photos-${found.length}-${slices}`);
  await rm(target, { recursive: true, force: true });
  // Sizes differ: width and height 0 say "mixed" in .bench/last.json.
  const out: Corpus = { id: 'photos', label: '', width: 0, height: 0, slices: [], files: [], bytes: 0 };
  let pixels = 0;
  for (let s = 0; s < slices; s++) {
    out.slices.push(join(target, `slice-${s + 1}`));
    out.files.push([]);
    await mkdir(out.slices[s]!, { recursive: true });
  }
  for (const [i, file] of found.entries()) {
    const s = i % slices;
    const name = `${String(i + 1).padStart(4, '0')}-${basename(file).replace(/[^\w.-]/g, '_')}`;
    await copyFile(file, join(out.slices[s]!, name));
    out.files[s]!.push(name);
    const m = await sharp(file).metadata();
    pixels += (m.width ?? 0) * (m.height ?? 0);
    out.bytes += (await stat(file)).size;
  }
  const mp = pixels / found.length / 1e6;
  out.label = `your photographs (${found.length} JPEGs from ${dir}, ${mp.toFixed(1)} MP on average) JPEG -> PNG`;
  log(`photographs: ${found.length} JPEGs, ${mp.toFixed(1)} MP on average -> ${target}`);
  return out;
}

/**
 * Bundles the CLI, so pixbatch starts as fast as the built package would. Split into chunks: in
 * one file esbuild hoists every package import to the top, so a local job would load the Azure
 * SDKs that the CLI otherwise loads only for blob and Batch work.
 */
async function buildPixbatch(): Promise<string[]> {
  const outdir = join(benchDir, 'bin');
  await rm(outdir, { recursive: true, force: true });
  const { build } = await import('esbuild');
  await build({
    entryPoints: { pixbatch: join(root, 'src', 'cli', 'main.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
    banner: { js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);" },
  });
  // Telemetry's export thread is started from its own bundle and chunks next to the code (see src/telemetry/recorder.ts).
  const { bundleExportWorker } = await import('../src/batch/bundle.js');
  await bundleExportWorker(root, outdir);
  return [process.execPath, join(outdir, 'pixbatch.mjs')];
}

/** With `--telemetry`: every span, and the sampling docs/monitoring.md suggests (1 image in 20). */
function telemetryVariants(endpoint: string): TelemetryVariant[] {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
  return [
    { suffix: '+telemetry', label: ' +otel', env },
    { suffix: '+telemetry-sampled', label: ' +otel 5% of image spans', env: { ...env, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.05' } },
  ];
}

const mb = (n: number) => (n / 1e6).toFixed(1);
const mib = (n: number) => (n / 2 ** 20).toFixed(0);

function printTable(r: CorpusResult): void {
  const pillow = r.contenders.find((c) => c.id === 'pillow');
  log(`\n${r.corpus.label} — ${r.corpus.images} images, ${mb(r.corpus.bytesIn)} MB of JPEG in, ${cores} cores`);
  const w = Math.max(26, ...r.contenders.map((c) => c.label.length));
  log(`${'contender'.padEnd(w)} ${'images/s'.padStart(9)} ${'/core'.padStart(7)} ${'/CPU-s'.padStart(7)} ${'seconds'.padStart(8)} ${'MB out'.padStart(8)} ${'vs Pillow size'.padStart(14)} ${'peak RSS MiB'.padStart(12)}`);
  for (const c of r.contenders) {
    const size = pillow ? `${((c.bytesOut / pillow.bytesOut - 1) * 100).toFixed(1)}%` : '-';
    log(
      `${c.label.padEnd(w)} ${c.imagesPerSecond.toFixed(2).padStart(9)} ${c.imagesPerSecondPerCore.toFixed(2).padStart(7)} ${c.imagesPerCpuSecond.toFixed(2).padStart(7)} ${c.seconds.toFixed(1).padStart(8)} ${mb(c.bytesOut).padStart(8)} ${size.padStart(14)} ${mib(c.peakRss).padStart(12)}`,
    );
  }
  const peers = r.contenders.filter((c) => c.kind === 'peer');
  if (peers.length) {
    log(`pixbatch speed per core ÷ peer's (same run, same images):`);
    for (const p of r.contenders.filter((c) => c.kind === 'pixbatch')) {
      log(`  ${p.label.padEnd(24)} ${peers.map((q) => `${(p.imagesPerSecondPerCore / q.imagesPerSecondPerCore).toFixed(2)}x ${q.label}`).join('   ')}`);
    }
  }
}

function printStages(label: string, s: StageTimes): void {
  log(`\nwhere the time goes (${label}), one ${s.megapixels.toFixed(1)} MP image on one core (median of ${s.images}), CPU ms:`);
  log(`  read ${s.read.toFixed(1)}   decode ${s.decode.toFixed(0)}   colour ${s.colour.toFixed(0)}   write ${s.write.toFixed(1)}`);
  for (const [p, e] of Object.entries(s.encode)) {
    log(`  encode ${p.padEnd(9)} ${e.ms.toFixed(0).padStart(6)} ms  (${(s.megapixels / (e.ms / 1000)).toFixed(0)} MP/s)  ${mb(e.bytes)} MB`);
  }
}

async function optionalBench(file: string, fn: string): Promise<unknown> {
  const path = join(root, 'bench', file);
  if (!existsSync(path)) {
    log(`\n${file}: not present, skipped`);
    return { skipped: `${file} not present` };
  }
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const run = mod[fn];
  if (typeof run !== 'function') {
    log(`\n${file}: no ${fn}() exported, skipped`);
    return { skipped: `${fn} not exported` };
  }
  log(`\n${file}: ${fn}()`);
  return (run as (o: unknown) => Promise<unknown>)({ quick, count: values.count ? smallCount : undefined, root: benchDir, log });
}

async function main(): Promise<void> {
  const started = new Date();
  await mkdir(benchDir, { recursive: true });
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
  log(`pixbatch ${pkg.version} bench on ${machine.cpu}, ${cores} cores, Node ${process.version}`);
  const png = pixpngStatus();
  log(png.loaded ? 'PNG encoder for fast/balanced: pixpng (native)' : `PNG encoder for fast/balanced: fallback (libpng/fdeflate): pixpng ${png.reason}`);
  const report: Record<string, unknown> = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: started.toISOString(),
    machine,
    options: { smallCount, largeCount, noisyCount, slices, rounds, presets, pixbatchEnv, photos: values.photos },
  };

  if (only.has('local')) {
    const corpora = (
      await Promise.all([corpus('small', '800x600 JPEG -> PNG', 800, 600, smallCount)])
    ).filter((c): c is Corpus => c !== undefined);
    const large = await corpus('large', '4000x3000 (12 MP) JPEG -> PNG', 4000, 3000, largeCount);
    if (large) corpora.push(large);
    const noisy = await corpus('noisy', '4000x3000 (12 MP) noisy photo-like JPEG -> PNG', 4000, 3000, noisyCount, 'noisy');
    if (noisy) corpora.push(noisy);
    const photos = values.photos === undefined ? undefined : await photoCorpus(resolve(values.photos));
    if (photos) corpora.push(photos);
    const pixbatch = await buildPixbatch();
    const stages: Record<string, StageTimes> = {};
    for (const c of [large, noisy, photos]) {
      if (!c) continue;
      const files = c.files[0]!.slice(0, 3).map((n) => join(c.slices[0]!, n));
      stages[c.id] = await timeStages(files, presets, benchDir);
      printStages(c.label, stages[c.id]!);
    }
    report.stages = stages;
    // The sink keeps nothing: what it receives is not measured, and holding it would grow this process.
    const sink = values.telemetry ? await startOtlpReceiver({ keep: false }) : undefined;
    const variants = sink ? telemetryVariants(sink.endpoint) : undefined;
    const { results, missingPeers } = await runLocalBench({
      root: benchDir,
      corpora,
      cores,
      rounds,
      presets,
      pixbatch,
      pixbatchVersion: pkg.version,
      pixbatchEnv,
      skipPeers: (values['skip-peers'] ?? '').split(',').filter(Boolean),
      telemetry: variants,
      log,
    }).catch(async (err: unknown) => {
      await sink?.stop();
      throw err;
    });
    if (missingPeers.length) log(`\npeers not found (scripts/install-bench-peers.sh installs them): ${missingPeers.join('; ')}`);
    for (const r of results) printTable(r);
    if (sink && variants) {
      log(`\ntelemetry's cost per process: pixbatch on an empty folder, off and with each variant, ${Math.max(8, rounds * 2)} rounds`);
      const start = await measureTelemetryStart({ root: benchDir, pixbatch, env: pixbatchEnv, variants, rounds: Math.max(8, rounds * 2), log }).finally(() => sink.stop());
      report.telemetryCost = printTelemetryCost(results, start, log);
    }
    log(`\npeak RSS: whole process tree (pixbatch: one process; Pillow: its ${cores} processes summed; ImageMagick and vips: GNU parallel and its jobs summed), sampled every 50 ms`);
    report.local = results;
    report.missingPeers = missingPeers;
  }
  if (only.has('rss')) {
    log('\npeak RSS against job size (800x600, default preset and concurrency):');
    report.rss = await runRssScaling({
      root: benchDir,
      pixbatch: await buildPixbatch(),
      counts: (values['rss-counts'] ?? '1000,10000').split(',').map((n) => int('rss-counts', n.trim(), 0)),
      env: pixbatchEnv,
      log,
    });
  }
  if (only.has('blob')) report.blob = await optionalBench('blob.ts', 'runBlobBench');
  if (only.has('batch')) report.batch = await optionalBench('batch.ts', 'runBatchBench');
  if (only.has('functions')) report.functions = await optionalBench('functions.ts', 'runFunctionsBench');

  report.finishedAt = new Date().toISOString();
  await writeFile(join(benchDir, 'last.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`\nwrote .bench/last.json (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`);
  // The corpus folders are kept for the next run; stray outputs are not.
  for (const entry of await readdir(benchDir)) if (entry === 'out') await rm(join(benchDir, entry), { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
