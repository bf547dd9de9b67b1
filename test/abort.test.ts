// What an aborted run rejects with, as a library caller sees it, and what `pixbatch convert` does on Ctrl-C.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { convert, generate, resolveOptions, runPipeline, FsStore, type WorkItem } from '../src/index.js';
import { outputOf, REPO } from './harness/cli.js';

const COUNT = 24;
const WIDTH = 96;

let root: string;
let src: string;

async function files(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true, recursive: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Every file's bytes and modification time: what "the inputs are unchanged" compares. */
async function snapshot(dir: string): Promise<Map<string, { data: Buffer; mtimeMs: number }>> {
  const out = new Map<string, { data: Buffer; mtimeMs: number }>();
  for (const name of await files(dir)) out.set(name, { data: await readFile(join(dir, name)), mtimeMs: (await stat(join(dir, name))).mtimeMs });
  return out;
}

/** The destination holds whole PNGs only: no temporary file, none cut short. Returns how many. */
async function onlyWholeOutputs(dir: string): Promise<number> {
  const all = await files(dir);
  assert.ok(!all.some((f) => f.includes('pixbatch-tmp')), `no temporary file: ${all.join(', ')}`);
  const pngs = all.filter((f) => f.endsWith('.png'));
  for (const f of pngs) {
    const { info } = await sharp(join(dir, f), { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, WIDTH, `${f} is whole`);
  }
  return pngs.length;
}

/** Holds the event loop without using CPU, so a run outlasts a short timeout however fast the machine is. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-abort-'));
  src = join(root, 'src');
  await generate({ destination: src, count: COUNT, size: `${WIDTH}x64`, seed: 11 });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('an aborted run', () => {
  // While the listing is still going, the abort stops the next admission; once every image is in
  // flight, it reaches their reads and writes, whose storage errors must not become the rejection.
  for (const { when, ioConcurrency } of [
    { when: 'while images are still being listed', ioConcurrency: 2 },
    { when: 'once every image is in flight', ioConcurrency: COUNT },
  ]) {
    test(`${when}, rejects with the very reason the caller aborted with, keeps only whole outputs and leaves the inputs as they were`, async () => {
      const before = await snapshot(src);
      const dst = join(root, `out-reason-${ioConcurrency}`);
      const controller = new AbortController();
      const reason = new Error('shutting down');
      let records = 0;
      const running = convert({ source: src, destination: dst, concurrency: 2, ioConcurrency, signal: controller.signal, onRecord: () => ++records === 3 && controller.abort(reason) });
      await assert.rejects(running, (err) => {
        assert.equal(err, reason);
        return true;
      });
      const written = await onlyWholeOutputs(dst);
      assert.ok(written >= 3 && written < COUNT, `the run stopped mid-way: ${written} of ${COUNT} written`);
      assert.deepEqual(await snapshot(src), before);
    });
  }

  test('given AbortSignal.timeout() rejects with its TimeoutError', async () => {
    const dst = join(root, 'out-timeout');
    const signal = AbortSignal.timeout(300);
    await assert.rejects(convert({ source: src, destination: dst, concurrency: 1, ioConcurrency: COUNT, signal, onRecord: () => pause(40) }), (err) => {
      assert.equal((err as Error).name, 'TimeoutError', String(err));
      assert.equal(err, signal.reason);
      return true;
    });
    assert.ok((await onlyWholeOutputs(dst)) < COUNT, 'the timeout stopped the run');
  });

  test('through runPipeline rejects with the caller\'s reason, not the read or write the abort cut off', async () => {
    const source = new FsStore(src);
    const destination = new FsStore(join(root, 'out-pipeline'));
    const items: WorkItem[] = [];
    for await (const e of source.list()) items.push({ name: e.name, output: e.name.replace(/\.jpg$/, '.png'), size: e.size, etag: e.etag, mtimeMs: e.mtimeMs });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    let records = 0;
    const running = runPipeline({
      items,
      source,
      destination,
      options: resolveOptions({ concurrency: 2, ioConcurrency: COUNT }),
      signal: controller.signal,
      onRecord: () => ++records === 3 && controller.abort(reason),
    });
    await assert.rejects(running, (err) => {
      assert.equal(err, reason);
      return true;
    });
    assert.ok((await onlyWholeOutputs(join(root, 'out-pipeline'))) < COUNT);
  });
});

describe('pixbatch convert', () => {
  test('Ctrl-C stops it with exit code 130, says finished outputs are kept, and leaves only whole outputs', async () => {
    const many = join(root, 'many');
    await generate({ destination: many, count: 300, size: `${WIDTH}x64`, seed: 12 });
    const dst = join(root, 'out-cli');
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), 'convert', many, dst, '-c', '1', '--quiet'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const finished = outputOf(child);
    try {
      // Interrupt as soon as the first output is in place.
      while (!(await files(dst)).some((f) => f.endsWith('.png')) && child.exitCode === null) await sleep(20);
      child.kill('SIGINT');
      const r = await finished;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /pixbatch: interrupted; finished outputs are kept and no partial file is left\. Re-run the same command to do the rest\./);
    } finally {
      child.kill('SIGKILL');
    }
    const written = await onlyWholeOutputs(dst);
    assert.ok(written > 0 && written < 300, `${written} of 300 written`);
  });
});
