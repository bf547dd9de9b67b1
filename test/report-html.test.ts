import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { ImageRecord, Report } from '../src/interfaces.js';
import { bucketWidth, buildPageModel, MAX_TIMELINE_BUCKETS } from '../src/report/html-model.js';
import { jsonForScript, renderHtmlReport, writeHtmlReport } from '../src/report/html.js';
import { run } from '../src/cli/program.js';
import { printSummary } from '../src/cli/summary-text.js';
import { startAzurite } from './harness/azurite.js';

/** Runs the CLI in this process and returns its exit code, leaving the test runner's own exit code alone. */
async function cli(...args: string[]): Promise<number> {
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    return await run(['node', 'pixbatch', ...args]);
  } finally {
    process.exitCode = before;
  }
}

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">.jpg';

/** A Batch-like run: 3 tasks on 2 nodes over two minutes, some skips and failures, cost known. */
function sampleReport(): Report {
  const t0 = Date.UTC(2026, 0, 15, 10, 0, 0);
  const images: ImageRecord[] = [];
  for (let i = 0; i < 90; i++) {
    const task = `task-${i % 3}`;
    const node = i % 3 === 2 ? 'node-b' : 'node-a';
    const at = t0 + 1000 + i * 1300;
    if (i % 15 === 7) {
      images.push({ name: `bad/${i}.jpg`, status: 'failed', code: 'CORRUPT_IMAGE', reason: 'premature end of JPEG data', bytesIn: 900, ms: 40, at, task, node });
    } else if (i % 10 === 3) {
      images.push({ name: `old/${i}.jpg`, status: 'skipped', reason: 'up to date', task, node });
    } else {
      images.push({ name: `ok/${i}.jpg`, output: `ok/${i}.png`, status: 'converted', bytesIn: 200_000 + i, bytesOut: 350_000 + i, ms: 900, width: 1024, height: 768, at, task, node });
    }
  }
  images.push({ name: HOSTILE, status: 'failed', code: 'NOT_AN_IMAGE', reason: 'reason with <b>markup</b> & "quotes"', bytesIn: 10, ms: 5, at: t0 + 60_000, task: 'task-0', node: 'node-a' });
  const counted = (s: string) => images.filter((r) => r.status === s).length;
  const sum = (k: 'bytesIn' | 'bytesOut') => images.filter((r) => r.status === 'converted').reduce((a, r) => a + (r[k] ?? 0), 0);
  const failed = images.filter((r) => r.status === 'failed');
  return {
    tool: { name: 'pixbatch', version: '0.1.0' },
    startedAt: new Date(t0).toISOString(),
    finishedAt: new Date(t0 + 120_000).toISOString(),
    counts: { total: images.length, converted: counted('converted'), skipped: counted('skipped'), failed: failed.length },
    bytesIn: sum('bytesIn'),
    bytesOut: sum('bytesOut'),
    seconds: 120.5,
    imagesPerSecond: 0.62,
    failures: failed.map((r) => ({ name: r.name, code: r.code!, message: r.reason! })),
    source: 'https://acct.blob.core.windows.net/images',
    destination: 'https://acct.blob.core.windows.net/converted',
    jobId: 'pixbatch-20260115-100000',
    spec: { to: 'png', preset: 'balanced', keepMetadata: false },
    cost: { currency: 'USD', nodeSeconds: 480, compute: 0.0123, transactions: 0.0004, total: 0.0127, notes: ['pay-as-you-go prices'] },
    images,
  };
}

/** A run of `n` converted images spread evenly over `spanMs`, all on the local engine. */
function bigReport(n: number, spanMs: number): Report {
  const t0 = Date.UTC(2026, 0, 1);
  const images: ImageRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    images[i] = { name: `img/${i}.jpg`, status: 'converted', bytesIn: 1000, bytesOut: 900, ms: 10, at: t0 + Math.floor((i * spanMs) / n) };
  }
  return {
    tool: { name: 'pixbatch', version: '0.1.0' },
    startedAt: new Date(t0).toISOString(),
    finishedAt: new Date(t0 + spanMs).toISOString(),
    counts: { total: n, converted: n, skipped: 0, failed: 0 },
    bytesIn: n * 1000,
    bytesOut: n * 900,
    seconds: spanMs / 1000,
    imagesPerSecond: n / (spanMs / 1000),
    failures: [],
    images,
  };
}

/** What the CLI's end-of-run summary prints for these byte counts: the `read …, wrote …` line's two sizes. */
function cliBytes(bytesIn: number, bytesOut: number): [string, string] {
  const out = new PassThrough();
  printSummary({ counts: { total: 1, converted: 1, skipped: 0, failed: 0 }, bytesIn, bytesOut, seconds: 1, imagesPerSecond: 1, failures: [] }, out);
  const text = String(out.read());
  const line = /^read (.+), wrote (.+?)(?: \(.*\))?$/m.exec(text);
  assert.ok(line, text);
  return [line[1]!, line[2]!];
}

/** Byte counts at the edges of the units, one task each, with the same counts in reverse order as output. */
const EDGE_BYTES = [0, 1023, 1024, 5e9];
const EDGE_BYTES_OUT = [...EDGE_BYTES].reverse();
function edgeBytesReport(): Report {
  const at = Date.UTC(2026, 0, 15, 10, 0, 0);
  const images: ImageRecord[] = EDGE_BYTES.map((bytesIn, i) => ({
    name: `img/${i}.jpg`, output: `img/${i}.png`, status: 'converted', bytesIn, bytesOut: EDGE_BYTES_OUT[i]!, ms: 10, at: at + i * 1000, task: `task-${i}`, node: 'node-a',
  }));
  const total = EDGE_BYTES.reduce((a, b) => a + b, 0);
  return {
    tool: { name: 'pixbatch', version: '0.1.0' },
    startedAt: new Date(at).toISOString(),
    finishedAt: new Date(at + 4000).toISOString(),
    counts: { total: images.length, converted: images.length, skipped: 0, failed: 0 },
    bytesIn: total,
    bytesOut: total,
    seconds: 4,
    imagesPerSecond: 1,
    failures: [],
    images,
  };
}

/** The CLI summary's sizes for each task of `edgeBytesReport`: what its table rows must show. */
function edgeRowsInCliWords(): [string, string][] {
  return EDGE_BYTES.map((b, i) => cliBytes(b, EDGE_BYTES_OUT[i]!));
}

describe('HTML report page', () => {
  test('bucket widths follow a 1-2-5 series and keep the bucket count bounded', () => {
    assert.equal(bucketWidth(0), 1);
    assert.equal(bucketWidth(400 * 7), 10);
    assert.equal(bucketWidth(400 * 1500), 2000);
    for (const span of [1, 999, 123_456, 36_000_000, 7 * 86_400_000]) {
      assert.ok(span / bucketWidth(span) <= MAX_TIMELINE_BUCKETS, `span ${span}`);
    }
  });

  test('a page for 200,000 images is about the size of one for 1,000: records become buckets', () => {
    const small = renderHtmlReport(bigReport(1000, 10 * 3600_000));
    const large = renderHtmlReport(bigReport(200_000, 10 * 3600_000));
    const model = buildPageModel(bigReport(200_000, 10 * 3600_000));
    assert.ok(model.timeline!.t.length <= MAX_TIMELINE_BUCKETS + 1);
    assert.equal(model.timeline!.converted.reduce((a, b) => a + b, 0), 200_000);
    assert.ok(large.length - small.length < 8_000, `grew by ${large.length - small.length} characters`);
    assert.ok(large.length < 150_000, `page is ${large.length} characters`);
  });

  test('groups images per task and per node with counts and a rate over the time each was busy', () => {
    const m = buildPageModel(sampleReport());
    assert.deepEqual(m.byTask.map((g) => g.name), ['task-0', 'task-1', 'task-2']);
    assert.deepEqual(m.byNode.map((g) => g.name), ['node-a', 'node-b']);
    const t1 = m.byTask.find((g) => g.name === 'task-1')!;
    assert.equal(t1.images, 30);
    assert.equal(t1.failed, 6);
    assert.equal(t1.skipped, 3);
    assert.equal(t1.converted, 21);
    // task-1 finishes images from i=1 to i=88, 1.3 s apart; the first started 0.9 s before it finished.
    const busy = (87 * 1300 + 900) / 1000;
    assert.ok(Math.abs(t1.rate! - 27 / busy) < 1e-9, `rate ${t1.rate}`);
    assert.equal(m.byNode.reduce((a, g) => a + g.images, 0), 91);
  });

  test('the page data carries each byte count in the words the CLI summary prints for it', () => {
    const report = edgeBytesReport();
    const m = buildPageModel(report);
    assert.deepEqual([m.bytesInText, m.bytesOutText], cliBytes(report.bytesIn, report.bytesOut));
    assert.deepEqual(m.byTask.map((g) => [g.bytesInText, g.bytesOutText]), edgeRowsInCliWords());
    // The CLI's own words, in steps of 1024, which the page must not restate in other units.
    assert.deepEqual(m.byTask.map((g) => g.bytesInText), ['0 B', '1023 B', '1.0 KB', '4.7 GB']);
  });

  test('a local run without tasks or nodes gets one "local" row and no node table', () => {
    const m = buildPageModel(bigReport(10, 1000));
    assert.deepEqual(m.byTask.map((g) => [g.name, g.images]), [['local', 10]]);
    assert.deepEqual(m.byNode, []);
  });

  test('a summary-only report still lists its failures', () => {
    const r = sampleReport();
    const m = buildPageModel({ ...r, images: [] });
    assert.equal(m.failures.length, r.counts.failed);
    assert.equal(m.timeline, null);
  });

  test('user-supplied names cannot close the data script or add markup', () => {
    const html = renderHtmlReport(sampleReport());
    assert.ok(!html.includes('</script><script>window.__pwned'));
    assert.ok(!html.includes('<img src=x'));
    assert.ok(!html.includes('<b>markup</b>'));
    // Exactly the page's own scripts: the data blob, uPlot and the page script.
    assert.equal(html.match(/<script\b/gi)?.length, 3);
    assert.equal(html.match(/<\/script>/gi)?.length, 3);
    assert.deepEqual(JSON.parse(jsonForScript({ name: HOSTILE, s: '\u2028<!--' })), { name: HOSTILE, s: '\u2028<!--' });
  });

  test('the page carries no reference to anything outside itself', () => {
    const html = renderHtmlReport(sampleReport());
    assert.ok(!/<(link|img|iframe)\b/i.test(html));
    assert.ok(!/\ssrc=/i.test(html.replace(/<script[\s\S]*?<\/script>/gi, '')));
    assert.match(html, /default-src 'none'/);
  });

  test('writeHtmlReport creates the folder and leaves no temporary file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pixbatch-html-'));
    try {
      const out = join(dir, 'nested', 'report.html');
      await writeHtmlReport(out, sampleReport());
      assert.match(await readFile(out, 'utf8'), /^<!doctype html>/);
      assert.deepEqual(await readdir(join(dir, 'nested')), ['report.html']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('pixbatch report', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixbatch-report-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('renders a JSON report into an HTML file beside it', async () => {
    const json = join(dir, 'run.json');
    await writeFile(json, JSON.stringify(sampleReport(), null, 2));
    assert.equal(await cli('report', json), 0);
    const html = await readFile(join(dir, 'run.html'), 'utf8');
    assert.match(html, /pixbatch-20260115-100000/);
  });

  test('renders the summary printed by --json, which has no per-image records', async () => {
    const { images: _images, tool: _tool, startedAt: _s, finishedAt: _f, ...summary } = sampleReport();
    const json = join(dir, 'summary.json');
    await writeFile(json, JSON.stringify(summary));
    assert.equal(await cli('report', json, '--out', join(dir, 'out', 'summary.html')), 0);
    assert.ok(existsSync(join(dir, 'out', 'summary.html')));
  });

  test('refuses a file that is not a report with a usage error', async () => {
    const json = join(dir, 'other.json');
    await writeFile(json, '{"hello": 1}');
    assert.equal(await cli('report', json), 2);
    assert.equal(await cli('report', join(dir, 'missing.json')), 2);
    assert.ok(!existsSync(join(dir, 'other.html')));
  });
});

test('pixbatch report reads a report from a Blob Storage URL', async () => {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const az = await startAzurite();
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-report-blob-'));
  const before = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  try {
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('converted');
    await container.create();
    const text = JSON.stringify(sampleReport());
    await container.getBlockBlobClient('.pixbatch/jobs/j1/report.json').upload(text, Buffer.byteLength(text));
    const out = join(dir, 'j1.html');
    assert.equal(await cli('report', `${az.blobEndpoint}/converted/.pixbatch/jobs/j1/report.json`, '--out', out), 0);
    assert.match(await readFile(out, 'utf8'), /pixbatch-20260115-100000/);
  } finally {
    if (before === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    else process.env.AZURE_STORAGE_CONNECTION_STRING = before;
    await az.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

const noBrowser = !existsSync(CHROMIUM) && !process.env.CI;

describe('HTML report in a headless browser', { skip: noBrowser ? `chromium not found at ${CHROMIUM} (apt-get install chromium); browser checks skipped outside CI` : false }, () => {
  let browser: import('playwright-core').Browser;
  let dir: string;
  before(async () => {
    const { chromium } = await import('playwright-core');
    dir = await mkdtemp(join(tmpdir(), 'pixbatch-browser-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Renders `report` through `pixbatch report`, opens it from file:// and returns the page once drawn, with what it logged and loaded. */
  async function open(report: Report, name: string) {
    const json = join(dir, `${name}.json`);
    const file = join(dir, `${name}.html`);
    await writeFile(json, JSON.stringify(report, null, 2));
    assert.equal(await cli('report', json, '--out', file), 0);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    return { page, problems, requests, url };
  }

  test('opens offline with no console errors or requests, draws the chart and shows the report figures', async () => {
    const report = sampleReport();
    const { page, problems, requests, url } = await open(report, 'report');
    try {
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [url], 'the page itself is the only thing loaded');
      assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);

      // The converted series is drawn in #2e7d32: count canvas pixels of that colour.
      const drawn = await page.evaluate(() => {
        const doc = (globalThis as any).document;
        const canvas = doc.querySelector('#chart canvas');
        if (!canvas) return { lit: 0, series: 0 };
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let lit = 0;
        let series = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] > 0) lit++;
          if (data[i + 3] > 200 && Math.abs(data[i] - 46) < 30 && Math.abs(data[i + 1] - 125) < 30 && Math.abs(data[i + 2] - 50) < 30) series++;
        }
        return { lit, series };
      });
      assert.ok(drawn.lit > 1000, `chart canvas has ${drawn.lit} drawn pixels`);
      assert.ok(drawn.series > 100, `converted line has ${drawn.series} pixels`);

      const figures = await page.$$eval('[data-figure]', (els) =>
        Object.fromEntries(els.map((e) => [e.getAttribute('data-figure'), { value: Number(e.getAttribute('data-value')), text: e.textContent }])),
      );
      const int = new Intl.NumberFormat('en-US');
      assert.deepEqual(figures.total, { value: report.counts.total, text: int.format(report.counts.total) });
      assert.deepEqual(figures.converted, { value: report.counts.converted, text: int.format(report.counts.converted) });
      assert.deepEqual(figures.skipped, { value: report.counts.skipped, text: int.format(report.counts.skipped) });
      assert.deepEqual(figures.failed, { value: report.counts.failed, text: int.format(report.counts.failed) });
      assert.equal(figures.bytesIn.value, report.bytesIn);
      assert.equal(figures.bytesOut.value, report.bytesOut);
      // 26,253,351 bytes of output are 25.04 MB in steps of 1024, as the CLI summary says.
      assert.equal(figures.bytesOut.text, '25.0 MB');
      assert.deepEqual(figures.seconds, { value: 120.5, text: '2 min 1 s' });
      assert.deepEqual(figures.imagesPerSecond, { value: 0.62, text: '0.62 images/s' });
      assert.deepEqual(figures.cost, { value: 0.0127, text: '$0.0127' });

      const tasks = await page.$$eval('#by-task tbody tr', (rows) =>
        rows.map((r) => [r.getAttribute('data-group'), r.querySelector('[data-col="images"]')!.textContent, r.querySelector('[data-col="failed"]')!.textContent]),
      );
      const byTask = buildPageModel(report).byTask;
      assert.deepEqual(tasks, byTask.map((g) => [g.name, String(g.images), String(g.failed)]));
      assert.equal(await page.locator('#by-node tbody tr').count(), 2);

      const failures = await page.$$eval('#failures tbody tr', (rows) =>
        rows.map((r) => ({
          name: r.querySelector('[data-col="name"]')!.textContent,
          code: r.querySelector('[data-col="code"]')!.textContent,
          reason: r.querySelector('[data-col="reason"]')!.textContent,
        })),
      );
      assert.deepEqual(
        failures.sort((a, b) => a.name!.localeCompare(b.name!)),
        report.failures.map((f) => ({ name: f.name, code: f.code, reason: f.message })).sort((a, b) => a.name.localeCompare(b.name)),
      );

      await mkdir('test-artifacts', { recursive: true });
      await page.screenshot({ path: join('test-artifacts', 'report.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  test('shows byte counts in the same words as the CLI summary, in the cards and the task table', async () => {
    const report = edgeBytesReport();
    const { page, problems } = await open(report, 'bytes');
    try {
      assert.deepEqual(problems, []);
      const cards = await page.$$eval('[data-figure="bytesIn"], [data-figure="bytesOut"]', (els) => els.map((e) => e.textContent));
      assert.deepEqual(cards, cliBytes(report.bytesIn, report.bytesOut));
      const rows = await page.$$eval('#by-task tbody tr', (trs) =>
        trs.map((r) => [r.querySelector('[data-col="bytesIn"]')!.textContent, r.querySelector('[data-col="bytesOut"]')!.textContent]),
      );
      assert.deepEqual(rows, edgeRowsInCliWords());
      assert.deepEqual(rows.map((r) => r[0]), ['0 B', '1023 B', '1.0 KB', '4.7 GB']);
    } finally {
      await page.close();
    }
  });

  test('a run of one image and a summary without records both render without errors', async () => {
    const one = bigReport(1, 0);
    const { images: _i, ...summaryOnly } = sampleReport();
    for (const [name, report] of [['one', one], ['summary-only', { ...summaryOnly, images: [] }]] as const) {
      const { page, problems, requests, url } = await open(report as Report, name);
      try {
        assert.deepEqual(problems, [], name);
        assert.deepEqual(requests, [url], name);
        assert.equal(await page.locator('[data-figure="total"]').getAttribute('data-value'), String(report.counts.total));
        assert.equal(await page.locator('#failures tbody tr').count(), report.failures.length);
      } finally {
        await page.close();
      }
    }
  });
});
