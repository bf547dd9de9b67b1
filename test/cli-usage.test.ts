// Commander's usage errors as a user meets them: one line in the project's error shape, exit code 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPixbatch } from './harness/cli.js';

async function usageError(...args: string[]): Promise<string> {
  const r = await runPixbatch(args);
  assert.equal(r.code, 2, `exit code of ${args.join(' ')} (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  return lines[0]!;
}

test('a misspelt flag is named with the flag it most likely meant, on one line, exit 2', async () => {
  const line = await usageError('convert', 'a', 'b', '--qualty', '3');
  assert.match(line, /^pixbatch: Expected an option of pixbatch convert .* but received "--qualty" \(did you mean --quality\?\)$/);
});

test('a misspelt flag of a nested command is suggested from that command\'s own flags', async () => {
  const line = await usageError('batch', 'status', 'job-1', '--wiat');
  assert.match(line, /pixbatch batch status/);
  assert.match(line, /did you mean --wait\?/);
});

test('a misspelt command gets a suggestion too', async () => {
  const line = await usageError('convrt', 'a', 'b');
  assert.match(line, /^pixbatch: Expected a command of pixbatch .* but received "convrt" \(did you mean convert\?\)$/);
});

test('a value outside a flag\'s choices is reported as what was expected for which flag', async () => {
  const line = await usageError('convert', 'a', 'b', '--preset', 'fastest');
  assert.equal(line, 'pixbatch: Expected one of fast, balanced, small for preset but received "fastest"');
});

test('a missing argument names the argument and the command', async () => {
  const line = await usageError('convert', 'a');
  assert.equal(line, 'pixbatch: Expected a destination argument for pixbatch convert but received none');
});
