// A child that prints nothing, or whose output is cut short, must fail a test with its exit code,
// signal and stderr: a bare "Unexpected end of JSON input" hides why it printed nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { jsonFrom, outputOf } from './harness/cli.js';

/** Runs `node -e SCRIPT` and reads what it printed only once it has exited, as a slow reader would. */
async function runUnread(script: string) {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = outputOf(child);
  child.stdout.pause();
  // Nothing is read from the pipe until the child is gone, so only what fit in the pipe got through.
  await once(child, 'exit');
  child.stdout.resume();
  return output;
}

test('a child killed before it printed its JSON fails with its signal and stderr, not a SyntaxError', async () => {
  const r = await runUnread(`process.stderr.write('converting 3 images\\n'); process.kill(process.pid, 'SIGKILL');`);
  assert.equal(r.stdout, '');
  assert.equal(r.signal, 'SIGKILL');
  assert.throws(() => jsonFrom(r, { what: 'pixbatch convert' }), (err: Error) => {
    assert.ok(!(err instanceof SyntaxError), 'not a bare SyntaxError');
    assert.match(err.message, /^pixbatch convert printed no complete JSON on stdout .*: nothing; ended by SIGKILL; stderr: converting 3 images$/);
    return true;
  });
});

test('a child that exits right after a large write to a pipe is cut short, and the error shows what arrived', async () => {
  // process.exit() does not wait for a pipe to take what is still queued: only the pipe's buffer arrives.
  const r = await runUnread(`process.stdout.write(JSON.stringify({ images: Array.from({ length: 100000 }, (_, i) => i) }) + '\\n'); process.exit(0);`);
  assert.equal(r.code, 0);
  assert.throws(() => JSON.parse(r.stdout), SyntaxError, 'the control: the output really is cut short');
  assert.throws(() => jsonFrom(r), (err: Error) => {
    assert.match(err.message, /^the child process printed no complete JSON on stdout \(.*\): "\{\\"images\\":\[0,1,2,.* \(\d+ characters\); exit code 0; stderr: \(empty\)$/);
    return true;
  });
});

test('the JSON on the last line is read past the lines before it, and a pretty document whole', () => {
  assert.deepEqual(jsonFrom({ stdout: 'progress 1/2\nprogress 2/2\n{"done":2}\n' }), { done: 2 });
  assert.deepEqual(jsonFrom({ stdout: '{\n  "done": 2\n}\n' }, { whole: true }), { done: 2 });
  assert.deepEqual(jsonFrom({ stdout: '', stderr: 'noise\n{"before":1}\n' }, { stream: 'stderr' }), { before: 1 });
});
