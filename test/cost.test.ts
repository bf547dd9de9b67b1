import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { estimateCost, costOfNodeTime, nodeTimeCostSummary, estimateToCostSummary } from '../src/cost/estimate.js';
import { formatEstimate, formatMoney } from '../src/cost/format.js';
import { calibrate } from '../src/cost/calibrate.js';
import { estimateJob } from '../src/cost/job-estimate.js';
import { FsStore } from '../src/store/fs.js';
import { loadConfig } from '../src/config/load.js';
import { DEFAULT_PRICES, type PriceTableData } from '../src/cost/prices.js';
import type { ConversionSpec } from '../src/interfaces.js';
import { UsageError } from '../src/errors.js';

const D2 = DEFAULT_PRICES.vm.Standard_D2s_v3!;
const close = (actual: number | undefined, expected: number, what: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);

describe('cost estimate', () => {
  test('reproduces the original system: 5,000 images at 2.5/s per core on 10 two-core nodes take 100 s', () => {
    const e = estimateCost({ images: 5000, bytesIn: 5e9, estimatedBytesOut: 1e10, perCoreImagesPerSecond: 2.5, vmSize: 'Standard_D2s_v3', nodes: 10, nodeStartupSeconds: 0 });
    close(e.wallSeconds, 100, 'wall seconds');
    close(e.nodeSeconds, 1000, 'node seconds');
    close(e.compute.dedicated, (1000 / 3600) * D2.dedicated, 'dedicated compute');
    close(e.compute.spot, (1000 / 3600) * D2.spot, 'spot compute');
    assert.ok(e.compute.spot! < e.compute.dedicated!);
  });

  test('bills node start-up time on every node', () => {
    const base = { images: 1000, bytesIn: 1e9, estimatedBytesOut: 1e9, perCoreImagesPerSecond: 5, vmSize: 'Standard_D4s_v3', nodes: 4 };
    const without = estimateCost({ ...base, nodeStartupSeconds: 0 });
    const withStart = estimateCost({ ...base, nodeStartupSeconds: 300 });
    close(withStart.nodeSeconds - without.nodeSeconds, 4 * 300, 'extra node seconds');
    assert.ok(withStart.notes.some((n) => /5 min per node/.test(n)));
  });

  test('counts storage transactions from images, list pages and shards, priced per 10,000', () => {
    const e = estimateCost({ images: 12_000, bytesIn: 1, estimatedBytesOut: 1, perCoreImagesPerSecond: 1, vmSize: 'Standard_D2s_v3', nodes: 3, shards: 20 });
    assert.equal(e.transactions.reads, 12_000 + 20 + 3);
    assert.equal(e.transactions.writes, 12_000 + 2 * 3 + 2 * 20 + 4);
    const p = DEFAULT_PRICES.storage;
    close(e.transactions.cost, (e.transactions.reads / 1e4) * p.readPer10k + (e.transactions.writes / 1e4) * p.writePer10k, 'transaction cost');
    close(e.total.spot, e.compute.spot! + e.transactions.cost, 'spot total');
  });

  test('prices a month of hot-tier storage for the outputs and says when it exceeds the spot compute', () => {
    const e = estimateCost({ images: 100_000, bytesIn: 1e11, estimatedBytesOut: 2 ** 40, perCoreImagesPerSecond: 20, vmSize: 'Standard_F8s_v2', nodes: 20, nodeStartupSeconds: 0 });
    close(e.storage.perMonth, 1024 * DEFAULT_PRICES.storage.hotPerGbMonth, 'storage per month');
    assert.ok(e.notes.some((n) => /more per month than converting them/.test(n)));
  });

  test('uses an edited price table instead of the defaults', () => {
    const prices: PriceTableData = { ...DEFAULT_PRICES, currency: 'EUR', vm: { Standard_D2s_v3: { dedicated: 1, spot: 0.25, cores: 2 } } };
    const e = estimateCost({ images: 7200, bytesIn: 0, estimatedBytesOut: 0, perCoreImagesPerSecond: 1, vmSize: 'Standard_D2s_v3', nodes: 1, nodeStartupSeconds: 0, prices });
    close(e.compute.dedicated, 1, 'one node-hour at 1 EUR');
    close(e.compute.spot, 0.25, 'one spot node-hour');
    assert.equal(e.currency, 'EUR');
  });

  test('still estimates node time for a size with no price, taking the cores from its name', () => {
    const e = estimateCost({ images: 1600, bytesIn: 0, estimatedBytesOut: 0, perCoreImagesPerSecond: 1, vmSize: 'Standard_F16s_v2', nodes: 1, nodeStartupSeconds: 0 });
    assert.equal(e.coresPerNode, 16);
    close(e.nodeSeconds, 100, 'node seconds');
    assert.equal(e.compute.dedicated, undefined);
    assert.equal(e.total.spot, undefined);
    assert.ok(e.notes.some((n) => /no price for Standard_F16s_v2/.test(n)));
  });

  test('refuses a zero rate, zero nodes and a size it cannot count cores for', () => {
    const base = { images: 10, bytesIn: 0, estimatedBytesOut: 0, perCoreImagesPerSecond: 1, vmSize: 'Standard_D2s_v3', nodes: 1 };
    assert.throws(() => estimateCost({ ...base, perCoreImagesPerSecond: 0 }), UsageError);
    assert.throws(() => estimateCost({ ...base, nodes: 0 }), /nodes/);
    assert.throws(() => estimateCost({ ...base, vmSize: 'mystery' }), /cores mystery has/);
  });

  test('prices node time after a job by priority, and knows when it cannot', () => {
    close(costOfNodeTime(3600, 'Standard_D2s_v3', 'spot'), D2.spot, 'spot hour');
    close(costOfNodeTime(1800, 'standard_d2s_v3', 'dedicated'), D2.dedicated / 2, 'half a dedicated hour, size in any case');
    assert.equal(costOfNodeTime(3600, 'Standard_Unknown9', 'spot'), undefined);
    const summary = nodeTimeCostSummary({ dedicatedSeconds: 3600, spotSeconds: 7200 }, 'Standard_D2s_v3');
    assert.equal(summary.nodeSeconds, 10_800);
    close(summary.total, D2.dedicated + 2 * D2.spot, 'after-job total');
    assert.match(summary.notes![0]!, /^list prices as of /);
  });

  test('turns an estimate into the summary cost of a dry run for the chosen priority', () => {
    const e = estimateCost({ images: 5000, bytesIn: 5e9, estimatedBytesOut: 1e10, perCoreImagesPerSecond: 2.5, vmSize: 'Standard_D2s_v3', nodes: 10 });
    const spot = estimateToCostSummary(e, 'spot');
    assert.equal(spot.compute, e.compute.spot);
    assert.equal(spot.storagePerMonth, e.storage.perMonth);
    assert.equal(spot.total, e.total.spot);
    assert.match(spot.notes![0]!, /10 × Standard_D2s_v3 \(spot\)/);
  });

  test('prints a short table with dedicated beside spot, the monthly storage and the price date', () => {
    const e = estimateCost({ images: 5000, bytesIn: 5e9, estimatedBytesOut: 1e10, perCoreImagesPerSecond: 2.5, vmSize: 'Standard_D2s_v3', nodes: 10 });
    const text = formatEstimate(e);
    const lines = text.split('\n');
    assert.match(lines[0]!, /5,000 images, 4\.7 GB in, ~9\.3 GB out, on a pool of 10 × Standard_D2s_v3 \(2 cores each\) at 2\.50 images\/s per core/);
    assert.match(lines[1]!, /dedicated\s+spot$/);
    assert.ok(lines.some((l) => /^\s+compute\s+\$\d/.test(l)));
    assert.ok(lines.some((l) => /^\s+total for this job\s+\$/.test(l)));
    assert.ok(lines.some((l) => /output storage: \$\d.* per month \(hot tier, 9\.3 GB\)/.test(l)));
    assert.match(lines.at(-1)!, /list prices as of \d{4}-\d{2}-\d{2} \(eastus, USD\), edit in config/);
    assert.ok(!/NaN|undefined/.test(text), text);
  });

  test('shows small amounts with enough digits to tell them apart', () => {
    assert.equal(formatMoney(0.0031, 'USD'), '$0.0031');
    assert.equal(formatMoney(12, 'EUR'), 'EUR 12.00');
    assert.equal(formatMoney(undefined, 'USD'), 'n/a');
  });
});

describe('calibration', () => {
  let dir: string;
  const spec: ConversionSpec = { to: 'png', preset: 'fast', keepMetadata: false };
  const files: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixbatch-cost-'));
    for (let i = 0; i < 3; i += 1) {
      const path = join(dir, `sample-${i}.jpg`);
      await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 40 * i, g: 120, b: 200 } } })
        .jpeg({ quality: 85 })
        .toFile(path);
      files.push(path);
    }
    await writeFile(join(dir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('measures a per-core rate and the output size ratio on real sample images', async () => {
    const c = await calibrate(files, spec, { cwd: dir });
    assert.equal(c.source, 'sample');
    assert.equal(c.images, 2, 'the first image warms up untimed');
    assert.ok(c.perCoreImagesPerSecond > 0 && Number.isFinite(c.perCoreImagesPerSecond));
    assert.ok(c.outputRatio! > 0);
    assert.match(c.note, /measured on 2 sample images \(png, preset fast\)/);
  });

  test('leaves broken samples out of the measurement', async () => {
    const c = await calibrate([join(dir, 'broken.jpg'), ...files.slice(0, 2)], spec, { cwd: dir });
    assert.equal(c.source, 'sample');
    assert.equal(c.images, 1);
  });

  test('falls back to the last bench result for the same preset when no sample converts', async () => {
    const benchDir = join(dir, 'project');
    await mkdir(join(benchDir, '.bench'), { recursive: true });
    await writeFile(
      join(benchDir, '.bench', 'last.json'),
      JSON.stringify({
        finishedAt: '2026-11-20T10:00:00.000Z',
        local: [
          {
            corpus: { id: 'small', label: '800x600 JPEG -> PNG', images: 200, bytesIn: 20e6 },
            contenders: [
              { id: 'pillow', kind: 'peer', imagesPerSecondPerCore: 3 },
              { id: 'pixbatch-balanced', kind: 'pixbatch', imagesPerSecondPerCore: 11, bytesOut: 40e6 },
              { id: 'pixbatch-fast', kind: 'pixbatch', imagesPerSecondPerCore: 17, bytesOut: 50e6 },
            ],
          },
        ],
      }),
    );
    const c = await calibrate([join(dir, 'broken.jpg')], spec, { cwd: benchDir });
    assert.equal(c.source, 'bench');
    assert.equal(c.perCoreImagesPerSecond, 17);
    assert.equal(c.outputRatio, 2.5);
    assert.match(c.note, /pixbatch-fast, 2026-11-20/);
  });

  test('estimates a job on the configured pool, calibrating on images read from the source store', async () => {
    const config = await loadConfig({ env: { PIXBATCH_VM_SIZE: 'Standard_F4s_v2', PIXBATCH_DEDICATED_NODES: '1', PIXBATCH_SPOT_NODES: '3' }, cwd: dir });
    const store = new FsStore(dir);
    const names = files.map((f) => f.slice(dir.length + 1));
    const job = await estimateJob({ images: 4000, bytesIn: 4e8, spec, config, sampleFrom: { store, names }, cwd: dir });
    assert.equal(job.calibration.source, 'sample');
    assert.equal(job.estimate.nodes, 4);
    assert.equal(job.estimate.vmSize, 'Standard_F4s_v2');
    assert.equal(job.estimate.bytesOut, Math.round(4e8 * job.calibration.outputRatio!));
    assert.match(job.text, /on a pool of 4 × Standard_F4s_v2/);
    assert.match(job.text, /rate: measured on 2 sample images/);
    assert.equal(job.cost.total, job.estimate.total.spot, 'a mostly-spot pool is priced as spot');
  });

  test('assumes the original system speed when there is neither a sample nor a bench', async () => {
    const c = await calibrate([], spec, { cwd: dir });
    assert.equal(c.source, 'fallback');
    assert.equal(c.perCoreImagesPerSecond, 2.5);
  });
});
