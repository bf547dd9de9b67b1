import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generate } from '../src/index.js';
import { UsageError } from '../src/errors.js';
import { jsonFrom, runPixbatch, type CliRun } from './harness/cli.js';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1).split('\\').join('/'));
  }
  return out.sort();
}

async function contents(dir: string): Promise<Map<string, Buffer>> {
  const map = new Map<string, Buffer>();
  for (const name of await walk(dir)) map.set(name, await readFile(join(dir, name)));
  return map;
}

function runCli(args: string[]): Promise<CliRun> {
  return runPixbatch(args);
}

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-generate-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('generate()', () => {
  test('writes byte-identical files for the same seed, whatever the concurrency', async () => {
    const a = await generate({ destination: join(root, 'a'), count: 6, size: '96x64', seed: 42, corrupt: 3, concurrency: 1 });
    const b = await generate({ destination: join(root, 'b'), count: 6, size: '96x64', seed: 42, corrupt: 3, concurrency: 4 });
    assert.deepEqual(a.files, b.files);
    assert.deepEqual(a.corrupt, b.corrupt);
    const ca = await contents(join(root, 'a'));
    const cb = await contents(join(root, 'b'));
    assert.deepEqual([...ca.keys()], [...cb.keys()]);
    for (const [name, data] of ca) assert.ok(data.equals(cb.get(name)!), `${name} is byte-identical`);
  });

  test('writes different pictures for a different seed', async () => {
    const c = await generate({ destination: join(root, 'c'), count: 6, size: '96x64', seed: 43 });
    const a = await contents(join(root, 'a'));
    for (const name of c.files) {
      const other = await readFile(join(root, 'c', name));
      assert.ok(!other.equals(a.get(name)!), `${name} differs from seed 42's`);
    }
    // Different pixels, not only different metadata.
    const pa = await sharp(join(root, 'a', c.files[0]!)).raw().toBuffer();
    const pc = await sharp(join(root, 'c', c.files[0]!)).raw().toBuffer();
    assert.ok(!pa.equals(pc));
  });

  test('writes the requested number of decodable JPEGs at the requested size, spread over sub-folders', async () => {
    const dir = join(root, 'd');
    const result = await generate({ destination: dir, count: 9, size: '120x80', seed: 3 });
    assert.equal(result.files.length, 9);
    assert.deepEqual(result.corrupt, []);
    assert.deepEqual(await walk(dir), [...result.files].sort());
    assert.equal(result.files[0], 'set-01/img-00001.jpg');
    assert.ok(new Set(result.files.map((f) => f.split('/')[0])).size > 1, 'more than one sub-folder');
    for (const name of result.files) {
      const meta = await sharp(join(dir, name)).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.equal(meta.width, 120);
      assert.equal(meta.height, 80);
      assert.equal(meta.channels, 3);
      // Decoding the whole image fails on any damage.
      await sharp(join(dir, name), { failOn: 'warning' }).raw().toBuffer();
    }
    const total = (await Promise.all(result.files.map((f) => stat(join(dir, f))))).reduce((n, s) => n + s.size, 0);
    assert.equal(result.bytes, total);
  });

  test('paints photo-like pictures, not flat colour: many distinct colours and visible detail', async () => {
    const { data, info } = await sharp(join(root, 'd', 'set-01/img-00001.jpg')).raw().toBuffer({ resolveWithObject: true });
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += info.channels) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    assert.ok(colours.size > 500, `${colours.size} distinct colours`);
    const stats = await sharp(join(root, 'd', 'set-01/img-00001.jpg')).stats();
    assert.ok(stats.channels.every((c) => c.stdev > 5), 'every channel varies');
  });

  test('adds broken files of every kind that fail to decode, without changing the good images', async () => {
    const result = await generate({ destination: join(root, 'e'), count: 6, size: '96x64', seed: 42, corrupt: 4 });
    assert.deepEqual(result.corrupt, [
      'set-01/bad-00001-truncated.jpg',
      'set-02/bad-00002-empty.jpg',
      'set-03/bad-00003-text.jpg',
      'set-04/bad-00004-truncated.jpg',
    ]);
    const a = await contents(join(root, 'a'));
    for (const name of result.files) assert.ok((await readFile(join(root, 'e', name))).equals(a.get(name)!), `${name} unchanged by --corrupt`);
    for (const name of result.corrupt) {
      const data = await readFile(join(root, 'e', name));
      if (name.includes('empty')) assert.equal(data.length, 0);
      if (name.includes('text')) assert.match(data.toString('utf8'), /not a picture/);
      if (name.includes('truncated')) {
        assert.deepEqual([...data.subarray(0, 2)], [0xff, 0xd8], 'starts like a JPEG');
        assert.notDeepEqual([...data.subarray(-2)], [0xff, 0xd9], 'has no end-of-image marker');
      }
      // Read from the file: sharp refuses an empty buffer before it even looks at it.
      await assert.rejects(sharp(join(root, 'e', name), { failOn: 'warning' }).raw().toBuffer(), `${name} does not decode`);
    }
  });

  test('leaves no temporary files behind', async () => {
    const names = await walk(join(root, 'e'));
    assert.equal(names.length, 10);
    assert.ok(names.every((n) => /^set-0\d\/(img|bad)-\d{5}(-\w+)?\.jpg$/.test(n)), names.join(', '));
  });

  test('refuses bad options with a UsageError saying what was expected', async () => {
    const cases: [Parameters<typeof generate>[0], RegExp][] = [
      [{ destination: join(root, 'x'), count: -1 }, /Expected integer between 0 and 1000000 for count but received -1/],
      [{ destination: join(root, 'x'), count: '' }, /for count/],
      [{ destination: join(root, 'x'), count: 2, size: 'big' }, /Expected size as WxH .* for size but received "big"/],
      [{ destination: join(root, 'x'), count: 2, size: '800' }, /for size/],
      [{ destination: join(root, 'x'), count: 2, quality: 120 }, /Expected integer between 1 and 100 for quality but received 120/],
      [{ destination: join(root, 'x'), count: 2, seed: 'abc' }, /for seed but received "abc"/],
      [{ destination: join(root, 'x'), count: 2, corrupt: 1.5 }, /for corrupt but received 1.5/],
    ];
    for (const [options, message] of cases) await assert.rejects(generate(options), (err: unknown) => err instanceof UsageError && message.test(err.message));
  });

  test('refuses a destination that is a file', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(generate({ destination: file, count: 1 }), (err: unknown) => err instanceof UsageError && /is a file/.test(err.message));
  });
});

describe('pixbatch generate', () => {
  test('prints a JSON summary with --json and nothing on stderr with --quiet', async () => {
    const dir = join(root, 'cli');
    const r = await runCli(['generate', dir, '--count', '3', '--size', '64x48', '--seed', '42', '--corrupt', '2', '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const summary = jsonFrom(r, { whole: true });
    assert.equal(summary.images, 3);
    assert.deepEqual(summary.corrupt, ['set-01/bad-00001-truncated.jpg', 'set-02/bad-00002-empty.jpg']);
    assert.equal(typeof summary.bytes, 'number');
    assert.equal((await walk(dir)).length, 5);
  });

  test('reports progress on stderr unless --quiet', async () => {
    const r = await runCli(['generate', join(root, 'cli2'), '--count', '2', '--size', '64x48']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /generated 2 images/);
  });

  test('Ctrl-C stops it with exit code 130, leaving only whole images', async () => {
    const dir = join(root, 'interrupted');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', dir, '--count', '100000', '--size', '64x48'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      // Interrupt as soon as the first image is in place.
      while (!(await walk(dir).catch(() => [])).some((n) => /^set-0\d\/img-\d{5}\.jpg$/.test(n))) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
    } finally {
      child.kill('SIGKILL');
    }
    assert.match(stderr, /interrupted/);
    const written = await walk(dir);
    assert.ok(written.length > 0 && written.length < 100000);
    for (const name of written) {
      assert.match(name, /^set-0\d\/img-\d{5}\.jpg$/, 'no temporary file left');
      await sharp(join(dir, name), { failOn: 'warning' }).raw().toBuffer();
    }
  });

  test('exits 2 with one line saying what was expected for a bad flag', async () => {
    for (const [args, message] of [
      [['--count', '3', '--quality', '120'], /Expected integer between 1 and 100 for quality but received "120"/],
      [['--count', '3', '--size', 'abc'], /Expected size as WxH/],
      [[], /--count/],
    ] as const) {
      const r = await runCli(['generate', join(root, 'cli3'), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});

describe('generate() stopping', () => {
  test('stops when its signal is aborted, leaving only whole files', async () => {
    const dir = join(root, 'aborted');
    const controller = new AbortController();
    const run = generate({
      destination: dir,
      count: 200,
      size: '64x48',
      concurrency: 1,
      signal: controller.signal,
      onProgress: ({ done }) => {
        if (done === 3) controller.abort(new Error('stop'));
      },
    });
    await assert.rejects(run, /stop/);
    const written = await walk(dir);
    assert.ok(written.length >= 3 && written.length < 200, `${written.length} files written`);
    for (const name of written) {
      assert.match(name, /^set-0\d\/img-\d{5}\.jpg$/, 'no temporary file left');
      await sharp(join(dir, name), { failOn: 'warning' }).raw().toBuffer();
    }
  });

  test('writes nothing for a count of zero and returns empty lists', async () => {
    const result = await generate({ destination: join(root, 'zero'), count: 0 });
    assert.deepEqual(result.files, []);
    assert.deepEqual(result.corrupt, []);
    assert.equal(result.bytes, 0);
  });
});
