// What telemetry costs, from `npm run bench -- --only local --telemetry`. Two parts, measured apart
// because they scale differently: what each process pays once (starting the export thread and the
// SDK, the final flush), measured on an empty folder, and what each image costs on top (its spans and
// metrics), from the corpus runs with that once-per-process part taken out. A job of a few seconds
// feels the first; a job of thousands of images only the second.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CorpusResult, RunRecord, TelemetryVariant } from './local.js';
import { runMeasured } from './process-tree.js';
import { median, medianWithInterval, type Estimate } from './stats.js';

export interface StartCost {
  variant: string;
  pairs: number;
  /** CPU milliseconds (all threads) a process with telemetry on uses more than one with it off, converting nothing. */
  cpuMs: Estimate;
  /** Milliseconds from start to exit it takes longer. */
  wallMs: Estimate;
}

/**
 * Runs pixbatch on an empty folder `rounds` times with telemetry off and with each variant, in a
 * rotating order, and compares each round's runs: the cost a process pays once, whatever it converts.
 */
export async function measureTelemetryStart(o: {
  root: string;
  pixbatch: string[];
  env: Record<string, string>;
  variants: TelemetryVariant[];
  rounds: number;
  log: (line: string) => void;
}): Promise<StartCost[]> {
  const source = join(o.root, 'out', 'empty-src');
  const destination = join(o.root, 'out', 'empty-out');
  await mkdir(source, { recursive: true });
  const contenders = [{ suffix: '', env: {} as Record<string, string> }, ...o.variants];
  const runs = new Map(contenders.map((c) => [c.suffix, [] as Array<{ cpu: number; wall: number }>]));
  const [command, ...args] = o.pixbatch;
  for (let round = 0; round < o.rounds; round++) {
    const shift = round % contenders.length;
    for (const c of [...contenders.slice(shift), ...contenders.slice(0, shift)]) {
      await rm(destination, { recursive: true, force: true });
      const r = await runMeasured(command!, [...args, 'convert', source, destination, '--json', '--quiet'], { env: { ...process.env, ...o.env, ...c.env } });
      if (r.code !== 0) throw new Error(`pixbatch on an empty folder${c.suffix ? ` (${c.suffix})` : ''} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      runs.get(c.suffix)!.push({ cpu: r.cpuSeconds, wall: r.seconds });
    }
  }
  await rm(join(o.root, 'out'), { recursive: true, force: true });
  const off = runs.get('')!;
  return o.variants.map((v) => {
    const on = runs.get(v.suffix)!;
    return {
      variant: v.suffix,
      pairs: on.length,
      cpuMs: medianWithInterval(on.map((r, i) => (r.cpu - off[i]!.cpu) * 1000)),
      wallMs: medianWithInterval(on.map((r, i) => (r.wall - off[i]!.wall) * 1000)),
    };
  });
}

/** What a corpus run with telemetry on measured against the same preset with it off. */
export interface TelemetryCost {
  corpus: string;
  preset: string;
  variant: string;
  /** Pairs compared: runs of the same slice in the same round, one right after the other. */
  pairs: number;
  /** CPU per image it added, beyond the once-per-process part: the steady cost to conversion throughput per core. */
  perImageCpu: Estimate;
  /** Share of conversion throughput lost over each job's own time (first image read to last written). */
  throughputDrop: Estimate;
  /** CPU the whole process used more, start to exit, once-per-process part included. */
  cpuCost: Estimate;
  /** Milliseconds each process took longer, start to exit. */
  msPerProcess: Estimate;
}

const pct = (e: Estimate) => `${e.median >= 0 ? '+' : ''}${(e.median * 100).toFixed(1)}% [${(e.low * 100).toFixed(1)}, ${(e.high * 100).toFixed(1)}]`;
const ms = (e: Estimate) => `${e.median >= 0 ? '+' : ''}${e.median.toFixed(0)} ms [${e.low.toFixed(0)}, ${e.high.toFixed(0)}]`;

/**
 * Compares each run with telemetry on against the run of the same slice with it off in the same round
 * (one right after the other, so a slow minute of a shared machine hits both), as the median of those
 * pairs with a 95% interval. A positive figure is a cost.
 */
export function printTelemetryCost(results: CorpusResult[], start: StartCost[], log: (line: string) => void): { start: StartCost[]; corpora: TelemetryCost[] } {
  log('\ntelemetry on (OTLP http/protobuf to a loopback sink) against off; median of run-by-run pairs [95% interval]:');
  log('once per process (an empty folder):');
  for (const s of start) log(`  ${s.variant.padEnd(20)} CPU ${ms(s.cpuMs).padEnd(22)} start to exit ${ms(s.wallMs)}   (${s.pairs} pairs)`);
  const corpora: TelemetryCost[] = [];
  const w = Math.max(36, ...results.flatMap((r) => r.contenders.map((c) => c.label.length)));
  log(`per image, and per run:`);
  log(`  ${''.padEnd(8)} ${'contender'.padEnd(w)} ${'CPU per image'.padEnd(22)} ${'throughput (job time)'.padEnd(22)} ${'CPU, whole run'.padEnd(22)} start to exit`);
  for (const r of results) {
    for (const on of r.contenders.filter((c) => c.id.includes('+telemetry'))) {
      const off = r.contenders.find((c) => c.id === on.id.slice(0, on.id.indexOf('+telemetry')));
      if (!off) continue;
      const variant = on.id.slice(on.id.indexOf('+'));
      const fixed = (start.find((s) => s.variant === variant)?.cpuMs.median ?? 0) / 1000;
      const pairs = on.runs.flatMap((a) => {
        const b = off.runs.find((x) => x.round === a.round && x.slice === a.slice);
        return b?.jobSeconds && a.jobSeconds ? [{ on: a as Required<RunRecord>, off: b as Required<RunRecord> }] : [];
      });
      if (!pairs.length) continue;
      const cost: TelemetryCost = {
        corpus: r.corpus.id,
        preset: off.id.replace('pixbatch-', ''),
        variant,
        pairs: pairs.length,
        perImageCpu: medianWithInterval(pairs.map((p) => (p.on.cpuSeconds - p.off.cpuSeconds - fixed) / p.off.cpuSeconds)),
        throughputDrop: medianWithInterval(pairs.map((p) => 1 - p.off.jobSeconds / p.on.jobSeconds)),
        cpuCost: medianWithInterval(pairs.map((p) => p.on.cpuSeconds / p.off.cpuSeconds - 1)),
        msPerProcess: medianWithInterval(pairs.map((p) => (p.on.seconds - p.off.seconds) * 1000)),
      };
      corpora.push(cost);
      log(
        `  ${r.corpus.id.padEnd(8)} ${on.label.padEnd(w)} ${pct(cost.perImageCpu).padEnd(22)} ${pct(cost.throughputDrop).padEnd(22)} ${pct(cost.cpuCost).padEnd(22)} ` +
          `${ms(cost.msPerProcess)} on ${median(off.runs.map((x) => x.seconds)).toFixed(1)} s`,
      );
    }
  }
  log(
    `  (${corpora[0]?.pairs ?? 0} pairs each. "CPU per image" leaves out the once-per-process CPU above: it is what a long job pays; ` +
      `"CPU, whole run" includes it. --rounds narrows the intervals.)`,
  );
  return { start, corpora };
}
