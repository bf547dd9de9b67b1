import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { jsonFrom } from './harness/cli.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MODULE = pathToFileURL(join(ROOT, 'src', 'young-generation.ts')).href;

// Allocates the way a long conversion does, some objects outliving a collection or two, and
// reports the young generation's size before and after (V8 calls it new_space).
const CHURN = [
  `import v8 from 'node:v8';`,
  `export function newSpace() { return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size; }`,
  `export function churn() {`,
  `  const keep = [];`,
  `  for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep.splice(0, 10000); }`,
  `  return keep.length;`,
  `}`,
].join('\n');

interface Report { result?: string; before: number; after: number }

// V8 rounds the young generation's size to its pages (Node 26 went from 3.25 to 4 MiB with growth
// off), so "kept" allows up to twice the starting size; left to grow, the churn takes it to 16 MiB
// or more (32-64 MiB by default, 16 with --max-semi-space-size=8) from 2-4.
const kept = (r: Report) => r.after <= 2 * r.before;
const grew = (r: Report) => r.after > 2 * r.before;

async function child(script: string, nodeArgs: string[], env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<Report> {
  return jsonFrom<Report>(await run(process.execPath, ['--import', 'tsx', ...nodeArgs, script, ...args], { cwd: ROOT, env: { ...process.env, ...env } }));
}

test('capYoungGeneration keeps V8 from growing its young generation, unless node was told how to size it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-young-'));
  try {
    await writeFile(join(dir, 'churn.mjs'), CHURN);
    await writeFile(
      join(dir, 'cap.mts'),
      [
        `import { capYoungGeneration } from ${JSON.stringify(MODULE)};`,
        `import { churn, newSpace } from './churn.mjs';`,
        `const before = newSpace();`,
        `const result = process.argv[2] === 'cap' ? capYoungGeneration() : undefined;`,
        `churn();`,
        `console.log(JSON.stringify({ result, before, after: newSpace() }));`,
      ].join('\n'),
    );
    const script = join(dir, 'cap.mts');
    const [plain, capped, flag, options, underscores, unrelated] = await Promise.all([
      child(script, []),
      child(script, [], {}, ['cap']),
      child(script, ['--max-semi-space-size=8'], {}, ['cap']),
      child(script, [], { NODE_OPTIONS: '--max-semi-space-size=8' }, ['cap']),
      child(script, ['--semi_space_growth_factor=4'], {}, ['cap']),
      // A flag's name inside another flag's value is not the flag.
      child(script, ['--title=pixbatch--max-semi-space-size=8'], {}, ['cap']),
    ]);
    // Without the cap the churn grows the young generation: the control that makes the rest mean something.
    assert.ok(grew(plain), `new space grew without the cap: ${JSON.stringify(plain)}`);
    for (const r of [capped, unrelated]) {
      assert.equal(r.result, 'kept at its starting size');
      assert.ok(kept(r), `new space kept its size: ${JSON.stringify(r)}`);
    }
    for (const r of [flag, options, underscores]) {
      assert.equal(r.result, "default (set by node's flags)");
      assert.ok(grew(r), `node's own sizing applies: ${JSON.stringify(r)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the pixbatch command caps its young generation before it runs', async () => {
  // The check runs as the command exits, in a module loaded ahead of it.
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-young-cli-'));
  try {
    await writeFile(join(dir, 'churn.mjs'), CHURN);
    await writeFile(
      join(dir, 'probe.mjs'),
      [
        `import { churn, newSpace } from './churn.mjs';`,
        `const before = newSpace();`,
        `process.on('exit', () => { churn(); process.stderr.write('\\n' + JSON.stringify({ before, after: newSpace() }) + '\\n'); });`,
      ].join('\n'),
    );
    const probe = async (entry: string) => {
      const args = ['--import', 'tsx', '--import', pathToFileURL(join(dir, 'probe.mjs')).href, entry, '--version'];
      return jsonFrom<Report>(await run(process.execPath, args, { cwd: ROOT }), { what: 'the probe', stream: 'stderr' });
    };
    // The same probe around a script that does nothing grows it: the control.
    await writeFile(join(dir, 'nothing.mjs'), '');
    const [cli, control] = await Promise.all([probe(join(ROOT, 'src', 'cli', 'main.ts')), probe(join(dir, 'nothing.mjs'))]);
    assert.ok(grew(control), `the probe grows new space on its own: ${JSON.stringify(control)}`);
    assert.ok(kept(cli), `new space kept its size: ${JSON.stringify(cli)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
