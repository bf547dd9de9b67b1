import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { convert } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { UsageError } from '../src/errors.js';
import { concurrencyFromArgs, threadPoolSizeFor, IO_THREADS } from '../src/cli/thread-pool.js';
import { orderedMap } from '../src/plan/ordered-map.js';

async function jpeg(path: string, width: number, height: number, seed: number): Promise<void> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + seed * 31 + ((i / 3 / width) | 0) * 3) & 0xff;
  await mkdir(join(path, '..'), { recursive: true });
  await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(path);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

let root: string;
let src: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-engine-'));
  src = join(root, 'src');
  await jpeg(join(src, 'a.jpg'), 64, 48, 1);
  await jpeg(join(src, 'B.JPEG'), 40, 30, 2);
  await jpeg(join(src, 'deep/er/c.Jpg'), 32, 32, 3);
  await writeFile(join(src, 'notes.txt'), 'not an image and not selected');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('convert()', () => {
  test('converts every selected image into the same folder structure with the source pixels', async () => {
    const dst = join(root, 'out1');
    assert.ok(sharp.cache().items.max > 0, "libvips' operation cache is on by default");
    const summary = await convert({ source: src, destination: dst });
    assert.deepEqual(summary.counts, { total: 3, converted: 3, skipped: 0, failed: 0 });
    assert.deepEqual(sharp.cache(), { memory: { current: 0, high: sharp.cache().memory.high, max: 0 }, files: { current: 0, max: 0 }, items: { current: 0, max: 0 } }, 'a job turns the cache off');
    const files = (await walk(dst)).filter((f) => !f.startsWith('.pixbatch'));
    assert.deepEqual(files, ['B.png', 'a.png', 'deep/er/c.png']);
    const expected = await sharp(join(src, 'a.jpg')).raw().toBuffer();
    const { data, info } = await sharp(join(dst, 'a.png')).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 64);
    assert.equal(info.height, 48);
    assert.ok(data.equals(expected), 'PNG pixels equal the decoded JPEG');
    assert.equal((await sharp(join(dst, 'a.png')).metadata()).format, 'png');
    assert.ok(summary.bytesOut > 0 && summary.bytesIn > 0);
  });

  test('skips outputs that are already up to date and reconverts when the source or the spec changes', async () => {
    const dst = join(root, 'out2');
    await convert({ source: src, destination: dst });
    const again = await convert({ source: src, destination: dst });
    assert.deepEqual(again.counts, { total: 3, converted: 0, skipped: 3, failed: 0 });

    const future = new Date(Date.now() + 60_000);
    await utimes(join(src, 'a.jpg'), future, future);
    const touched = await convert({ source: src, destination: dst });
    assert.deepEqual(touched.counts, { total: 3, converted: 1, skipped: 2, failed: 0 });

    const otherSpec = await convert({ source: src, destination: dst, pngCompression: 1 });
    assert.equal(otherSpec.counts.converted, 3, 'a different spec makes every output stale');
  });

  test('--overwrite never leaves existing outputs untouched and always reconverts them', async () => {
    const dst = join(root, 'out3');
    await mkdir(dst, { recursive: true });
    await writeFile(join(dst, 'a.png'), 'existing');
    const never = await convert({ source: src, destination: dst, overwrite: 'never' });
    assert.deepEqual(never.counts, { total: 3, converted: 2, skipped: 1, failed: 0 });
    assert.equal(await readFile(join(dst, 'a.png'), 'utf8'), 'existing');
    const always = await convert({ source: src, destination: dst, overwrite: 'always' });
    assert.equal(always.counts.converted, 3);
    assert.equal((await sharp(join(dst, 'a.png')).metadata()).format, 'png');
  });

  test('a destination inside the source is not walked as input', async () => {
    const dst = join(src, 'converted');
    try {
      const first = await convert({ source: src, destination: dst, to: 'jpeg', overwrite: 'always' });
      assert.equal(first.counts.total, 3);
      const second = await convert({ source: src, destination: dst, to: 'jpeg', overwrite: 'always' });
      assert.equal(second.counts.total, 3, 'the outputs (also .jpg) are not picked up as inputs');
    } finally {
      await rm(dst, { recursive: true, force: true });
    }
  });

  test('include and exclude globs select names case-insensitively', async () => {
    const dst = join(root, 'out4');
    const s = await convert({ source: src, destination: dst, include: ['**/*.jpeg', 'deep/**'], exclude: ['**/er/**'], dryRun: true });
    assert.deepEqual(s.counts, { total: 1, converted: 1, skipped: 0, failed: 0 });
  });

  test('a dry run converts nothing and does not create the destination', async () => {
    const dst = join(root, 'out5');
    const seen: string[] = [];
    const s = await convert({ source: src, destination: dst, dryRun: true, onRecord: (r) => seen.push(`${r.status}:${r.name}`) });
    assert.equal(s.dryRun, true);
    assert.equal(s.counts.converted, 3);
    assert.deepEqual(seen.sort(), ['planned:B.JPEG', 'planned:a.jpg', 'planned:deep/er/c.Jpg']);
    await assert.rejects(stat(dst), { code: 'ENOENT' });
  });

  test('two sources that would write the same output: the second is reported, not silently overwritten', async () => {
    const dir = join(root, 'clash');
    await jpeg(join(dir, 'x.jpg'), 16, 16, 4);
    await jpeg(join(dir, 'x.jpeg'), 16, 16, 5);
    const s = await convert({ source: dir, destination: join(root, 'out6') });
    assert.equal(s.counts.converted, 1);
    assert.equal(s.counts.failed, 1);
    assert.equal(s.failures[0]!.code, 'EXISTS');
    assert.match(s.failures[0]!.message, /x\.png/);
  });

  test('resize, fit and format options shape the output', async () => {
    const dst = join(root, 'out7');
    await convert({ source: src, destination: dst, to: 'webp', quality: 70, resize: '20x20', fit: 'cover', watermark: '© test' });
    const m = await sharp(join(dst, 'a.webp')).metadata();
    assert.equal(m.format, 'webp');
    assert.equal(m.width, 20);
    assert.equal(m.height, 20);
    const inside = join(root, 'out8');
    await convert({ source: src, destination: inside, to: 'avif', resize: '32x', include: ['a.jpg'] });
    const a = await sharp(join(inside, 'a.avif')).metadata();
    assert.equal(a.width, 32);
    assert.equal(a.height, 24);
  });

  test('metadata is stripped unless asked to keep it', async () => {
    const dir = join(root, 'exif');
    await mkdir(dir, { recursive: true });
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .jpeg()
      .withExif({ IFD0: { Copyright: 'someone' } })
      .toFile(join(dir, 'e.jpg'));
    await convert({ source: dir, destination: join(root, 'out9') });
    assert.equal((await sharp(join(root, 'out9', 'e.png')).metadata()).exif, undefined);
    await convert({ source: dir, destination: join(root, 'out10'), keepMetadata: true });
    assert.ok((await sharp(join(root, 'out10', 'e.png')).metadata()).exif);
  });

  test('--report writes the summary and one record per image', async () => {
    const report = join(root, 'r', 'report.json');
    await convert({ source: src, destination: join(root, 'out11'), report });
    const r = JSON.parse(await readFile(report, 'utf8'));
    assert.equal(r.counts.total, 3);
    assert.equal(r.images.length, 3);
    assert.equal(r.tool.name, 'pixbatch');
    assert.ok(r.images.every((i: { status: string; bytesOut: number }) => i.status === 'converted' && i.bytesOut > 0));
    assert.deepEqual((await readdir(join(root, 'r'))).sort(), ['report.json'], 'no side files left beside the report');
  });

  test('--html-report and --notify deliver the same summary at the end of a run', async () => {
    const { createServer } = await import('node:http');
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const html = join(root, 'h', 'report.html');
      const summary = await convert({ source: src, destination: join(root, 'out13'), htmlReport: html, notify: `http://127.0.0.1:${port}/hook` });
      const page = await readFile(html, 'utf8');
      const data = JSON.parse(/id="pixbatch-data">(.*?)<\/script>/s.exec(page)![1]!);
      assert.equal(data.timeline.converted.reduce((a: number, b: number) => a + b, 0), 3, 'the chart is built from the per-image records');
      assert.deepEqual(await readdir(join(root, 'h')), ['report.html']);
      assert.equal(bodies.length, 1);
      assert.deepEqual(JSON.parse(bodies[0]!).counts, summary.counts);
    } finally {
      server.close();
    }
  });

  test('an aborted run leaves no partial or temporary file behind', async () => {
    const dir = join(root, 'many');
    for (let i = 0; i < 24; i++) await jpeg(join(dir, `m${i}.jpg`), 96, 64, i);
    const dst = join(root, 'out12');
    const ac = new AbortController();
    let n = 0;
    await assert.rejects(
      convert({ source: dir, destination: dst, concurrency: 2, signal: ac.signal, onRecord: () => ++n === 3 && ac.abort() }),
    );
    const files = await walk(dst);
    assert.ok(!files.some((f) => f.includes('pixbatch-tmp')), `no temp files: ${files.join(', ')}`);
    for (const f of files.filter((f) => f.endsWith('.png'))) {
      const m = await sharp(join(dst, f)).raw().toBuffer({ resolveWithObject: true });
      assert.equal(m.info.width, 96, `${f} is complete`);
    }
    const resumed = await convert({ source: dir, destination: dst });
    assert.equal(resumed.counts.converted + resumed.counts.skipped, 24);
    assert.ok(resumed.counts.skipped >= 3, 'work finished before the abort is not redone');
  });
});

describe('options', () => {
  test('bad values are refused with one line naming the option and what it accepts', () => {
    assert.throws(() => resolveOptions({ quality: '120', to: 'webp' }), (e: Error) => e instanceof UsageError && e.message === 'Expected integer between 1 and 100 for quality but received "120"');
    assert.throws(() => resolveOptions({ to: 'bmp' }), /Expected one of png, jpeg, webp, avif, tiff for to but received "bmp"/);
    assert.throws(() => resolveOptions({ resize: 'abc' }), /Expected size as WxH/);
    assert.throws(() => resolveOptions({ concurrency: 0 }), /Expected integer between 1 and 1024 for concurrency but received 0 of type number/);
    assert.throws(() => resolveOptions({ quality: 80 }), /lossy format/);
    assert.throws(() => resolveOptions({ watermark: 'x', watermarkOpacity: '2' }), /between 0 and 1 for watermark-opacity/);
  });

  test('sizes parse as WxH, W and xH', () => {
    assert.deepEqual(resolveOptions({ resize: '800x600' }).spec.resize, { width: 800, height: 600, fit: 'inside' });
    assert.deepEqual(resolveOptions({ resize: '800' }).spec.resize, { width: 800, height: undefined, fit: 'inside' });
    assert.deepEqual(resolveOptions({ resize: 'x600', fit: 'cover' }).spec.resize, { width: undefined, height: 600, fit: 'cover' });
  });

  test('the thread pool is sized from --concurrency plus I/O headroom', () => {
    assert.equal(concurrencyFromArgs(['convert', 'a', 'b', '--concurrency', '6']), 6);
    assert.equal(concurrencyFromArgs(['convert', '--concurrency=3']), 3);
    assert.equal(threadPoolSizeFor(['-c', '5']), 5 + IO_THREADS);
  });

  test('without --concurrency one image more than the cores converts at once, and the pool has a thread for it', () => {
    const cores = availableParallelism();
    assert.equal(resolveOptions({}).concurrency, cores + 1);
    assert.equal(concurrencyFromArgs(['convert', 'a', 'b']), cores + 1);
    assert.equal(threadPoolSizeFor(['convert', 'a', 'b']), cores + 1 + IO_THREADS);
  });
});

test('orderedMap keeps input order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  async function* input() {
    for (let i = 0; i < 20; i++) yield i;
  }
  const out: number[] = [];
  for await (const v of orderedMap(input(), 3, async (i) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, (20 - i) % 4));
    running--;
    return i * 2;
  })) out.push(v);
  assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => i * 2));
  assert.equal(peak, 3);
});
