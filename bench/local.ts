// The local benchmark: pixbatch (each preset) and the peers found on this machine convert the
// same JPEGs to PNG, in the same run, taking turns slice by slice so that a slowdown of the
// machine hits all of them alike.
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Preset } from '../src/interfaces.js';
import { findPeers, type Peer } from './peers/peers.js';
import { runMeasured } from './process-tree.js';
import { median } from './stats.js';

export interface Corpus {
  id: string;
  label: string;
  width: number;
  height: number;
  /** Absolute folders, one per slice; every contender converts each slice once per round. */
  slices: string[];
  /** Source names per slice, relative to the slice folder. */
  files: string[][];
  bytes: number;
}

export interface ContenderResult {
  id: string;
  label: string;
  kind: 'pixbatch' | 'peer';
  version?: string;
  images: number;
  /** Median over rounds of the summed slice times (process start to exit). */
  seconds: number;
  roundSeconds: number[];
  /** pixbatch only: median over rounds of the summed job times its summary reports (first image read to last written; no process start-up, no exit). */
  jobSeconds?: number;
  /** Median over rounds of the summed CPU seconds of the process tree (all threads). */
  cpuSeconds: number;
  imagesPerSecond: number;
  /** Images per CPU second: speed per core that another tenant's load disturbs much less than wall time. */
  imagesPerCpuSecond: number;
  imagesPerSecondPerCore: number;
  bytesOut: number;
  /** Peak over all runs of the process tree's summed RSS. */
  peakRss: number;
  /** Peak high-water mark of the largest single process. */
  peakProcessRss: number;
  rssNote: string;
  /** Every timed run, so two contenders can be compared run by run (same round, same slice, run one after the other). */
  runs: RunRecord[];
}

export interface RunRecord {
  round: number;
  slice: number;
  seconds: number;
  cpuSeconds: number;
  jobSeconds?: number;
}

export interface CorpusResult {
  corpus: { id: string; label: string; images: number; width: number; height: number; bytesIn: number; slices: number };
  contenders: ContenderResult[];
}

export interface LocalBenchOptions {
  root: string;
  corpora: Corpus[];
  cores: number;
  rounds: number;
  presets: Preset[];
  /** Command that runs the pixbatch CLI, e.g. ['node', '.bench/bin/pixbatch.mjs']. */
  pixbatch: string[];
  pixbatchVersion: string;
  /** Extra environment for pixbatch runs (experiments such as MALLOC_ARENA_MAX). */
  pixbatchEnv: Record<string, string>;
  /** Leave some peers out (ids). */
  skipPeers: string[];
  /** With telemetry on as well: each preset runs again once per variant, with its variables (an exporter to a loopback sink). */
  telemetry?: TelemetryVariant[];
  log: (line: string) => void;
}

export interface TelemetryVariant {
  /** Appended to the contender id, e.g. `+telemetry`. */
  suffix: string;
  /** Appended to the label, e.g. ` +otel`. */
  label: string;
  env: Record<string, string>;
}

interface Contender {
  id: string;
  label: string;
  kind: 'pixbatch' | 'peer';
  version?: string;
  rssNote: string;
  run(slice: string, names: string[], out: string, listFile: string): Promise<{ seconds: number; cpuSeconds: number; jobSeconds?: number; peakTreeRss: number; peakProcessRss: number }>;
}

/** Every file under `dir`, at any depth, as absolute paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    // Node 20.9 names the folder `path`, later releases `parentPath`.
    const parent = (entry as { parentPath?: string }).parentPath ?? (entry as unknown as { path: string }).path;
    out.push(join(parent, entry.name));
  }
  return out;
}

/** Bytes of the PNGs under a folder (pixbatch's own `.pixbatch/` bookkeeping left out) and how many there are. */
async function outputsOf(dir: string): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const file of await listFiles(dir)) {
    if (!file.toLowerCase().endsWith('.png') || relative(dir, file).split('/').includes('.pixbatch')) continue;
    count++;
    bytes += (await stat(file)).size;
  }
  return { count, bytes };
}

function pngName(name: string): string {
  return name.replace(/\.jpe?g$/i, '.png');
}

function pixbatchContender(o: LocalBenchOptions, preset: Preset, telemetry?: TelemetryVariant): Contender {
  return {
    id: `pixbatch-${preset}${telemetry?.suffix ?? ''}`,
    label: `pixbatch --preset ${preset}${telemetry?.label ?? ''}`,
    kind: 'pixbatch',
    version: o.pixbatchVersion,
    rssNote: 'one process',
    async run(slice, names, out) {
      const [command, ...args] = o.pixbatch;
      const r = await runMeasured(command!, [...args, 'convert', slice, out, '--preset', preset, '--json', '--quiet'], {
        env: { ...process.env, ...o.pixbatchEnv, ...telemetry?.env },
      });
      if (r.code !== 0) throw new Error(`pixbatch --preset ${preset} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      const summary = JSON.parse(r.stdout) as { counts: { converted: number; failed: number }; seconds: number };
      if (summary.counts.converted !== names.length || summary.counts.failed !== 0) {
        throw new Error(`pixbatch --preset ${preset} converted ${summary.counts.converted} of ${names.length} (${summary.counts.failed} failed)`);
      }
      return { ...r, jobSeconds: summary.seconds };
    },
  };
}

function peerContender(peer: Peer, cores: number): Contender {
  return {
    id: peer.id,
    label: peer.label,
    kind: 'peer',
    version: peer.version,
    rssNote: peer.rssNote,
    async run(slice, names, out, listFile) {
      // Peers do not create folders: make them first, outside the timed part.
      const folders = new Set(names.map((n) => join(out, n, '..')));
      for (const f of folders) await mkdir(f, { recursive: true });
      await writeFile(listFile, names.map((n) => `${join(slice, n)}\t${join(out, pngName(n))}\n`).join(''));
      const { command, args } = peer.command(listFile, cores);
      const r = await runMeasured(command, args);
      if (r.code !== 0) throw new Error(`${peer.label} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return r;
    },
  };
}

/** Reads every source once so no contender pays for a cold page cache. */
async function warmPageCache(corpus: Corpus): Promise<void> {
  for (let i = 0; i < corpus.slices.length; i++) {
    for (const name of corpus.files[i]!) await readFile(join(corpus.slices[i]!, name));
  }
}

/** Runs every contender on every corpus and returns the measurements. */
export async function runLocalBench(o: LocalBenchOptions): Promise<{ results: CorpusResult[]; missingPeers: string[] }> {
  const { peers, missing } = findPeers();
  const contenders: Contender[] = [
    ...o.presets.map((p) => pixbatchContender(o, p)),
    ...(o.telemetry ?? []).flatMap((t) => o.presets.map((p) => pixbatchContender(o, p, t))),
    ...peers.filter((p) => !o.skipPeers.includes(p.id)).map((p) => peerContender(p, o.cores)),
  ];
  const results: CorpusResult[] = [];
  for (const corpus of o.corpora) {
    const images = corpus.files.reduce((n, f) => n + f.length, 0);
    o.log(`\n${corpus.label}: ${images} images in ${corpus.slices.length} slices, ${o.rounds} round(s); ${contenders.map((c) => c.id).join(', ')}`);
    await warmPageCache(corpus);
    const work = join(o.root, 'out', corpus.id);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });

    // Warm-up: each contender converts a few files of the first slice, untimed, so binaries,
    // shared libraries and Python modules are in the page cache before timing starts.
    const warmNames = corpus.files[0]!.slice(0, Math.max(2, o.cores));
    const warmDir = join(work, 'warm-src');
    for (const n of warmNames) {
      await mkdir(join(warmDir, n, '..'), { recursive: true });
      await writeFile(join(warmDir, n), await readFile(join(corpus.slices[0]!, n)));
    }
    for (const c of contenders) {
      const out = join(work, 'warm-out', c.id);
      await c.run(warmDir, warmNames, out, join(work, `${c.id}.list`));
      await rm(out, { recursive: true, force: true });
    }

    const acc = new Map(contenders.map((c) => [c.id, { rounds: [] as number[], jobRounds: [] as number[], cpuRounds: [] as number[], runs: [] as RunRecord[], bytes: 0, count: 0, rss: 0, processRss: 0 }]));
    for (let round = 0; round < o.rounds; round++) {
      const roundTime = new Map(contenders.map((c) => [c.id, 0]));
      const roundJobTime = new Map(contenders.map((c) => [c.id, 0]));
      const roundCpu = new Map(contenders.map((c) => [c.id, 0]));
      for (let s = 0; s < corpus.slices.length; s++) {
        // Rotate the order every slice and round: nobody always goes first or last.
        const shift = (s + round * corpus.slices.length) % contenders.length;
        const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
        for (const c of order) {
          const out = join(work, c.id, `slice-${s + 1}`);
          await rm(out, { recursive: true, force: true });
          const r = await c.run(corpus.slices[s]!, corpus.files[s]!, out, join(work, `${c.id}.list`));
          const outputs = await outputsOf(out);
          if (outputs.count !== corpus.files[s]!.length) {
            throw new Error(`${c.label} wrote ${outputs.count} PNGs for ${corpus.files[s]!.length} images in ${corpus.slices[s]}`);
          }
          const a = acc.get(c.id)!;
          roundTime.set(c.id, roundTime.get(c.id)! + r.seconds);
          roundCpu.set(c.id, roundCpu.get(c.id)! + r.cpuSeconds);
          a.runs.push({ round: round + 1, slice: s + 1, seconds: r.seconds, cpuSeconds: r.cpuSeconds, ...(r.jobSeconds !== undefined ? { jobSeconds: r.jobSeconds } : {}) });
          if (r.jobSeconds !== undefined) roundJobTime.set(c.id, roundJobTime.get(c.id)! + r.jobSeconds);
          if (round === 0) {
            a.bytes += outputs.bytes;
            a.count += outputs.count;
          }
          a.rss = Math.max(a.rss, r.peakTreeRss);
          a.processRss = Math.max(a.processRss, r.peakProcessRss);
          o.log(`  round ${round + 1} slice ${s + 1}: ${c.id.padEnd(20)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.cpuSeconds.toFixed(2).padStart(7)} s CPU  ${(outputs.bytes / 1e6).toFixed(1).padStart(8)} MB  peak ${(r.peakTreeRss / 2 ** 20).toFixed(0)} MiB`);
          await rm(out, { recursive: true, force: true });
        }
      }
      for (const [id, t] of roundTime) acc.get(id)!.rounds.push(t);
      for (const [id, t] of roundJobTime) acc.get(id)!.jobRounds.push(t);
      for (const [id, t] of roundCpu) acc.get(id)!.cpuRounds.push(t);
    }
    await rm(work, { recursive: true, force: true });
    results.push({
      corpus: { id: corpus.id, label: corpus.label, images, width: corpus.width, height: corpus.height, bytesIn: corpus.bytes, slices: corpus.slices.length },
      contenders: contenders.map((c) => {
        const a = acc.get(c.id)!;
        const seconds = median(a.rounds);
        const cpuSeconds = median(a.cpuRounds);
        return {
          id: c.id,
          label: c.label,
          kind: c.kind,
          version: c.version,
          images,
          seconds,
          roundSeconds: a.rounds,
          ...(c.kind === 'pixbatch' ? { jobSeconds: median(a.jobRounds) } : {}),
          cpuSeconds,
          imagesPerSecond: images / seconds,
          imagesPerCpuSecond: images / cpuSeconds,
          imagesPerSecondPerCore: images / seconds / o.cores,
          bytesOut: a.bytes,
          peakRss: a.rss,
          peakProcessRss: a.processRss,
          rssNote: c.rssNote,
          runs: a.runs,
        };
      }),
    });
  }
  return { results, missingPeers: missing };
}
