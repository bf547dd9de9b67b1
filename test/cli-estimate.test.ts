// `pixbatch convert --dry-run` prices the planned work on a Batch pool before anything runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { generate, type Summary } from '../src/index.js';
import { jsonFrom } from './harness/cli.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
// tsx is resolved from the repository, since the command runs in a temporary folder.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function pixbatch(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, ['--import', tsx, join(repo, 'src', 'cli', 'main.ts'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, PIXBATCH_CONFIG: '' } });
}

test('a dry run estimates node time and cost for the pool size asked for, and converts nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-estimate-'));
  try {
    await generate({ destination: join(dir, 'in'), count: 12, size: '160x120', seed: 3 });
    const small = pixbatch(dir, 'convert', 'in', 'out', '--dry-run', '--json', '--quiet', '--nodes', '2', '--vm-size', 'Standard_D2s_v3');
    assert.equal(small.status, 0, small.stderr);
    const s = jsonFrom(small, { whole: true }) as Summary;
    assert.equal(s.counts.converted, 12);
    assert.ok(s.cost && s.cost.total! > 0 && s.cost.nodeSeconds! > 0, JSON.stringify(s.cost));
    assert.ok(s.cost!.notes!.some((n) => n.includes('2 × Standard_D2s_v3')), JSON.stringify(s.cost!.notes));
    await assert.rejects(stat(join(dir, 'out')), { code: 'ENOENT' });

    const big = jsonFrom(pixbatch(dir, 'convert', 'in', 'out', '--dry-run', '--json', '-q', '--nodes', '8', '--vm-size', 'Standard_D2s_v3'), { whole: true }) as Summary;
    assert.ok(big.cost!.nodeSeconds! > s.cost!.nodeSeconds!, 'more nodes cost more node time for the same tiny job (start-up dominates)');

    const text = pixbatch(dir, 'convert', 'in', 'out', '--dry-run', '--nodes', '2');
    assert.match(text.stdout, /estimate: 12 images/);
    assert.match(text.stdout, /dedicated\s+spot/);

    const bad = pixbatch(dir, 'convert', 'in', 'out', '--dry-run', '--nodes', 'zero');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr.trim(), /^pixbatch: Expected a whole number of nodes above 0 for nodes but received "zero"$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
