// The command as one stage of a shell pipeline: a reader that stops early must not make it crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, outputOf, runPixbatch } from './harness/cli.js';

test('a dry run whose reader closes the pipe early (| head) stops quietly with exit code 0 and writes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-pipe-'));
  try {
    const made = await runPixbatch(['generate', join(dir, 'in'), '--count', '300', '--size', '16x16', '--seed', '2', '--quiet']);
    assert.equal(made.code, 0, made.stderr);
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), 'convert', join(dir, 'in'), join(dir, 'out'), '--dry-run'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lines = 0;
    // What `head -1` does: read the first line, then close the pipe.
    child.stdout.on('data', (d: Buffer) => {
      lines += d.toString().split('\n').length - 1;
      if (lines >= 1) child.stdout.destroy();
    });
    const r = await outputOf(child);
    assert.ok(lines >= 1, 'the dry run printed a line before the pipe closed');
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|at .*\.js:\d+/, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(join(dir, 'out')).catch(() => []), [], 'a dry run writes no output');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
