// `pixbatch convert` as a user runs it: a child process, its exit code, stdout and stderr.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generate, pixpngStatus, type Report, type Summary } from '../src/index.js';
import { jsonFrom, runPixbatch, type CliRun } from './harness/cli.js';

function pixbatch(...args: string[]): Promise<CliRun> {
  return runPixbatch(args);
}

function pixbatchWith(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return runPixbatch(args, { env });
}

async function images(dir: string): Promise<string[]> {
  try {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
      if (e.isFile() && !e.name.startsWith('.')) {
        const name = join(e.parentPath, e.name).slice(dir.length + 1);
        if (!name.startsWith('.pixbatch')) out.push(name);
      }
    }
    return out.sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

let root: string;
let good: string;
let mixed: string;
let goodFiles: string[];
// Outputs go under out/, never inside a source folder.
const out = (name: string) => join(root, 'out', name);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-cli-convert-'));
  good = join(root, 'good');
  mixed = join(root, 'mixed');
  goodFiles = (await generate({ destination: good, count: 5, size: '64x48', seed: 5 })).files;
  await generate({ destination: mixed, count: 3, size: '64x48', seed: 6, corrupt: 3 });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('pixbatch convert', () => {
  test('--json prints one summary with counts, bytes, timing and failures, and exits 0 when all converted', async () => {
    const r = await pixbatch('convert', good, out('json'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = jsonFrom(r, { whole: true }) as Summary;
    assert.deepEqual(s.counts, { total: 5, converted: 5, skipped: 0, failed: 0 });
    assert.ok(s.bytesIn > 0 && s.bytesOut > 0);
    assert.equal(typeof s.seconds, 'number');
    assert.equal(typeof s.imagesPerSecond, 'number');
    assert.deepEqual(s.failures, []);
    assert.deepEqual(await images(out('json')), goodFiles.map((f) => f.replace(/\.jpg$/, '.png')).sort());
    const meta = await sharp(join(out('json'), 'set-01/img-00001.png')).metadata();
    assert.equal(meta.format, 'png');
  });

  test('exits 1 when some images fail, listing each with a code, and converts the rest', async () => {
    const r = await pixbatch('convert', mixed, out('mixed'), '--json', '--quiet');
    assert.equal(r.code, 1, r.stderr);
    const s = jsonFrom(r, { whole: true }) as Summary;
    assert.deepEqual(s.counts, { total: 6, converted: 3, skipped: 0, failed: 3 });
    const codes = Object.fromEntries(s.failures.map((f) => [f.name, f.code]));
    assert.deepEqual(codes, {
      'set-01/bad-00001-truncated.jpg': 'CORRUPT_IMAGE',
      'set-02/bad-00002-empty.jpg': 'EMPTY_FILE',
      'set-03/bad-00003-text.jpg': 'NOT_AN_IMAGE',
    });
    for (const f of s.failures) assert.ok(f.message.length > 0);
    assert.equal((await images(out('mixed'))).length, 3);
  });

  test('exits 2 with one line saying what was expected for a bad flag, and converts nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['--to', 'jpeg', '--quality', '120'], /quality.*1.*100|1.*100.*quality/i],
      [['--to', 'bmp'], /png.*jpeg.*webp/],
      [['--resize', 'abc'], /WxH/],
      [['--concurrency', 'zero'], /concurrency/],
    ];
    for (const [args, expected] of cases) {
      const dest = out(`bad-${args.join('')}`);
      const r = await pixbatch('convert', good, dest, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.deepEqual(await images(dest), []);
    }
  });

  test('exits 2 naming the path when the source does not exist', async () => {
    const missing = out('does-not-exist');
    const r = await pixbatch('convert', missing, out('never'));
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  test('--dry-run lists what would be converted and converts nothing', async () => {
    const r = await pixbatch('convert', good, out('dry'), '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    for (const f of goodFiles) assert.ok(r.stdout.includes(f), `${f} listed`);
    assert.deepEqual(await images(out('dry')), []);
    const j = await pixbatch('convert', good, out('dry'), '--dry-run', '--json');
    const s = jsonFrom(j, { whole: true }) as Summary;
    assert.equal(s.dryRun, true);
    // In a dry run, `converted` counts what would be converted; nothing is written.
    assert.deepEqual(s.counts, { total: 5, converted: 5, skipped: 0, failed: 0 });
    assert.equal(s.bytesOut, 0);
    assert.deepEqual(await images(out('dry')), []);
  });

  test('--report writes the summary plus one record per image', async () => {
    const file = out('report/run.json');
    const r = await pixbatch('convert', mixed, out('reported'), '--report', file, '--quiet');
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(await readFile(file, 'utf8')) as Report;
    assert.equal(report.tool.name, 'pixbatch');
    assert.ok(!Number.isNaN(Date.parse(report.startedAt)) && !Number.isNaN(Date.parse(report.finishedAt)));
    assert.deepEqual(report.counts, { total: 6, converted: 3, skipped: 0, failed: 3 });
    assert.equal(report.images.length, 6);
    const byName = new Map(report.images.map((i) => [i.name, i]));
    assert.equal(byName.get('set-01/img-00001.jpg')?.status, 'converted');
    assert.equal(byName.get('set-01/img-00001.jpg')?.output, 'set-01/img-00001.png');
    assert.equal(byName.get('set-02/bad-00002-empty.jpg')?.status, 'failed');
    assert.equal(byName.get('set-02/bad-00002-empty.jpg')?.code, 'EMPTY_FILE');
    assert.equal(report.failures.length, 3);
  });

  test('a second run skips everything, and --overwrite always converts everything again', async () => {
    const dest = out('rerun');
    const first = await pixbatch('convert', good, dest, '--json', '--quiet');
    assert.equal(first.code, 0, first.stderr);
    const written = (await stat(join(dest, 'set-01/img-00001.png'))).mtimeMs;
    const again = await pixbatch('convert', good, dest, '--json', '--quiet');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((jsonFrom(again, { whole: true }) as Summary).counts, { total: 5, converted: 0, skipped: 5, failed: 0 });
    assert.equal((await stat(join(dest, 'set-01/img-00001.png'))).mtimeMs, written, 'skipped output not rewritten');
    const always = await pixbatch('convert', good, dest, '--json', '--quiet', '--overwrite', 'always');
    assert.equal(always.code, 0, always.stderr);
    assert.deepEqual((jsonFrom(always, { whole: true }) as Summary).counts, { total: 5, converted: 5, skipped: 0, failed: 0 });
  });

  test('--quiet prints nothing on stderr or stdout', async () => {
    const r = await pixbatch('convert', good, out('quiet'), '--quiet');
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '');
    assert.equal((await images(out('quiet'))).length, 5);
  });

  test('without --quiet it reports progress or a summary on stderr/stdout', async () => {
    const r = await pixbatch('convert', good, out('loud'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /5/);
    assert.notEqual((r.stdout + r.stderr).trim(), '');
    if (pixpngStatus().loaded) assert.doesNotMatch(r.stderr, /own encoder/, 'no note when the native encoder ran');
  });

  test('says on stderr when PNGs went through libpng because the native encoder is unavailable, and why', async () => {
    const r = await pixbatchWith({ PIXBATCH_NATIVE: '0' }, 'convert', good, out('no-native'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /without pixbatch's own encoder .*unavailable: turned off by PIXBATCH_NATIVE=0/);
    assert.equal((await images(out('no-native'))).length, 5);
    // --preset small always uses libpng: nothing to say.
    const small = await pixbatchWith({ PIXBATCH_NATIVE: '0' }, 'convert', good, out('no-native-small'), '--preset', 'small');
    assert.doesNotMatch(small.stderr, /own encoder/);
  });
});
