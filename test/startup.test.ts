// Start-up cost: commands that stay on this machine must not load the Azure SDKs (about 0.3 s of
// every start), and `--version`/`--help` should load little beyond commander. Each run is a child
// process with a module hook that records every module it resolves and every CommonJS module it loads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver } from './harness/telemetry-sinks.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const main = join(repo, 'src', 'cli', 'main.ts');
// Children run in a temporary folder, where a bare `--import tsx` would not be found.
const tsx = import.meta.resolve('tsx');

// Registered with --import after tsx: resolve() sees every specifier, TypeScript sources included.
const RECORDER = `
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
const log = process.env.STARTUP_TEST_MODULE_LOG;
register(new URL('./record-resolve.mjs', import.meta.url), { data: { log } });
process.on('exit', () => {
  appendFileSync(log, Object.keys(createRequire(import.meta.url).cache).map((f) => 'cjs ' + f + '\\n').join(''));
});
`;
const RECORD_RESOLVE = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, 'esm ' + result.url + '\\n');
  return result;
}
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every module file or URL the run loaded. */
  modules: string[];
}

let dir: string;
let runs = 0;

/** Packages that tsx loads on its own (esbuild among them), left out of what a run is said to load. */
let loaderPackages = new Set<string>();

async function traced(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const log = join(dir, `modules-${++runs}.log`);
  await writeFile(log, '');
  const child = spawn(process.execPath, ['--import', tsx, '--import', join(dir, 'recorder.mjs'), script, ...args], {
    cwd: dir,
    env: { ...process.env, ...env, STARTUP_TEST_MODULE_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const modules = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  return { code, stdout, stderr, modules };
}

const pixbatch = (args: string[], env?: NodeJS.ProcessEnv) => traced(main, args, env);

/** Packages (by node_modules folder) among the loaded modules, e.g. `@azure/storage-blob`, `zod`. */
function packagesOf(modules: string[]): Set<string> {
  const found = new Set<string>();
  for (const m of modules) {
    const match = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(m.replace(/%40/g, '@'));
    if (match) found.add(match[1]!.replace('\\', '/'));
  }
  for (const p of loaderPackages) found.delete(p);
  return found;
}

const azure = (packages: Set<string>) => [...packages].filter((p) => p.startsWith('@azure/') || p.startsWith('@typespec/'));
const otel = (packages: Set<string>) => [...packages].filter((p) => p.startsWith('@opentelemetry/'));

describe('start-up of local commands', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixbatch-startup-'));
    await writeFile(join(dir, 'recorder.mjs'), RECORDER);
    await writeFile(join(dir, 'record-resolve.mjs'), RECORD_RESOLVE);
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'nothing.mjs'), '');
    const bare = await traced(join(dir, 'nothing.mjs'), []);
    assert.equal(bare.code, 0, bare.stderr);
    loaderPackages = packagesOf(bare.modules);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('generate and a folder-to-folder convert load no Azure SDK module', async () => {
    const generated = await pixbatch(['generate', 'in', '--count', '2', '--size', '64x48', '--seed', '3', '--quiet']);
    assert.equal(generated.code, 0, generated.stderr);
    assert.deepEqual(azure(packagesOf(generated.modules)), []);

    const converted = await pixbatch(['convert', 'in', 'out', '--quiet']);
    assert.equal(converted.code, 0, converted.stderr);
    const outputs = (await readdir(join(dir, 'out'), { recursive: true })).filter((f) => f.endsWith('.png'));
    assert.equal(outputs.length, 2);
    const packages = packagesOf(converted.modules);
    // The recorder saw the packages the conversion needs, so an empty Azure list means none was loaded.
    assert.ok(packages.has('sharp') && packages.has('commander'), `recorded packages: ${[...packages].join(', ')}`);
    assert.deepEqual(azure(packages), []);
    assert.deepEqual(otel(packages), [], 'telemetry loads only when an exporter is configured');
    assert.ok(!packages.has('zod'), 'the config schema (zod) is only for Batch and pool commands');
  });

  test('with OTEL_EXPORTER_OTLP_ENDPOINT set, the run exports, yet the main thread loads no OpenTelemetry module: the SDK lives in the export thread', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const r = await pixbatch(['convert', 'in', 'out-otel', '--quiet'], { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, APPLICATIONINSIGHTS_CONNECTION_STRING: '' });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(otlp.requests.some((q) => q.path === '/v1/traces'), `the receiver got ${otlp.requests.map((q) => q.path).join(', ') || 'nothing'}`);
      const packages = packagesOf(r.modules);
      assert.ok(packages.has('sharp'), `recorded packages: ${[...packages].join(', ')}`);
      assert.deepEqual(otel(packages), [], 'the main thread converts; the export thread loads the SDK');
      assert.deepEqual(azure(packages), [], 'the Azure Monitor exporter is for APPLICATIONINSIGHTS_CONNECTION_STRING only');
    } finally {
      await otlp.stop();
    }
  });

  test('--version and --help load commander and none of the Azure SDKs, zod or the progress bar', async () => {
    for (const args of [['--version'], ['--help'], ['convert', '--help']]) {
      const r = await pixbatch(args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length > 0);
      const packages = packagesOf(r.modules);
      assert.deepEqual([...packages].sort(), ['commander'], `${args.join(' ')} loaded ${[...packages].join(', ')}`);
    }
  });

  test('a Blob Storage location does load the storage SDK, which the recorder sees', async () => {
    // A container name the service refuses stops the run after the SDK loaded and before any request.
    const r = await pixbatch(['convert', 'empty', 'az://Not_A_Container/png', '--quiet'], { AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /container name/);
    assert.ok(packagesOf(r.modules).has('@azure/storage-blob'));
  });
});
