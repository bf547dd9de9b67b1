// Builds the zip that Azure Functions runs from (zip deployment / run-from-package, Linux): host.json,
// package.json whose "main" is the bundled app, and the same native parts as the Batch bundle (sharp's
// linux-x64 packages, pixbatch's PNG encoder when built here). The Functions host provides Node and
// `@azure/functions-core`, so neither is inside.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { bundleScript, listFiles, packageRoot, stageNativeParts } from '../batch/bundle.js';
import { VERSION } from '../version.js';

/** Layout inside the zip: package.json's "main". */
export const FUNCTIONS_SCRIPT = 'app/functions.mjs';

/**
 * The host's settings: the extension bundle brings the Event Grid trigger; invocations log through the
 * host, and a failed Event Grid invocation is retried by Event Grid itself (no host retry policy).
 */
export const HOST_JSON = {
  version: '2.0',
  extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' },
  logging: { logLevel: { default: 'Information' } },
};

export interface FunctionsPackage {
  file: string;
  sha256: string;
  size: number;
  entries: number;
  version: string;
}

/** Every entry gets this time: a DOS timestamp, read in local time by zip tools, so a local date keeps it the same in every time zone. */
const FIXED_TIME = new Date(1980, 0, 2, 0, 0, 0);

/**
 * Writes the zip to `out` (default `pixbatch-functions-VERSION.zip` in the current folder). The archive is
 * reproducible: sorted entries, one fixed time, fixed modes, no extra timestamp fields, so the same
 * inputs give the same sha256.
 *
 * @example
 * const pkg = await buildFunctionsPackage({ out: 'functions.zip' });
 * // az functionapp deployment source config-zip -g RG -n APP --src functions.zip
 */
export async function buildFunctionsPackage(options: { out?: string } = {}): Promise<FunctionsPackage> {
  const root = packageRoot();
  const out = resolve(options.out ?? `pixbatch-functions-${VERSION}.zip`);
  const stage = await mkdtemp(join(tmpdir(), 'pixbatch-functions-'));
  try {
    await bundleScript(root, join(stage, FUNCTIONS_SCRIPT), 'functions/entry', ['@azure/functions-core']);
    const pkg = { name: 'pixbatch-functions', version: VERSION, private: true, type: 'module', main: FUNCTIONS_SCRIPT };
    await writeFile(join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    await writeFile(join(stage, 'host.json'), JSON.stringify(HOST_JSON, null, 2) + '\n');
    await stageNativeParts(stage, root);

    const zip = new yazl.ZipFile();
    const files = await listFiles(stage);
    for (const name of files) {
      const path = join(stage, name);
      const executable = ((await stat(path)).mode & 0o111) !== 0;
      zip.addFile(path, name, { mtime: FIXED_TIME, forceDosTimestamp: true, mode: executable ? 0o100755 : 0o100644 });
    }
    zip.end();
    await mkdir(dirname(out), { recursive: true });
    const partial = join(dirname(out), `.${process.pid}.partial.zip`);
    try {
      await pipeline(zip.outputStream, createWriteStream(partial));
      await rename(partial, out);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    const data = await readFile(out);
    return { file: out, sha256: createHash('sha256').update(data).digest('hex'), size: data.length, entries: files.length, version: VERSION };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
