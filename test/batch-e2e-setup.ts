// Shared set-up of the Batch engine's tests: Azurite with generated images, the bundle built once.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { startAzurite, type Azurite } from './harness/azurite.js';
import { jpegBuffer } from './harness/images.js';
import { outputOf } from './harness/cli.js';
import { openStore } from '../src/store/index.js';
import { buildBundle, type Bundle } from '../src/batch/bundle.js';
import { BatchClient, BatchSharedKeyCredential } from '../src/batch/client.js';
import { startBatchStandIn, type BatchStandIn } from './batch-standin/index.js';

/** Downloads and builds are kept here between runs, so the Node binary is fetched from the registry once. */
export const TEST_CACHE_DIR = process.env.PIXBATCH_CACHE_DIR || fileURLToPath(new URL('../node_modules/.cache/pixbatch', import.meta.url));

let bundle: Promise<Bundle> | undefined;
export function testBundle(): Promise<Bundle> {
  bundle ??= buildBundle({ cacheDir: TEST_CACHE_DIR });
  return bundle;
}

/** Starts Azurite and points this process's storage credentials at it (restored by `stop`). */
export async function storage(): Promise<Azurite & { restore(): void }> {
  const az = await startAzurite();
  const before = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  return {
    ...az,
    restore() {
      if (before === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = before;
    },
  };
}

/** Uploads `count` tiny JPEGs (`img/00000.jpg`, …) and the given broken files to a container. */
export async function uploadImages(location: string, count: number, broken: Record<string, Buffer> = {}): Promise<void> {
  const store = await openStore(location, 'destination');
  await store.prepare?.('destination');
  // A handful of distinct images, reused: generating 1,000 JPEGs would cost more than the test.
  const samples = await Promise.all(Array.from({ length: 8 }, (_, i) => jpegBuffer(64, 48, i)));
  const limit = pLimit(32);
  await Promise.all([
    ...Array.from({ length: count }, (_, i) => limit(() => store.write(`img/${String(i).padStart(5, '0')}.jpg`, samples[i % samples.length]!, { contentType: 'image/jpeg' }))),
    ...Object.entries(broken).map(([name, data]) => limit(() => store.write(name, data))),
  ]);
  await store.close?.();
}

/** Runs `/bin/sh -c`-style command lines as a Batch node would, and collects what they print. */
export function runShell(commandLine: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  // Command lines start with /bin/sh -c '...': run them the same way.
  return outputOf(spawn('/bin/sh', ['-c', commandLine], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export function repoPath(...parts: string[]): string {
  return join(fileURLToPath(new URL('..', import.meta.url)), ...parts);
}

/** The user-assigned identity the stand-in's pool carries. */
export const TEST_IDENTITY = {
  resourceId: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch-nodes',
  clientId: '11111111-2222-3333-4444-555555555555',
};

/** The Batch stand-in with a pool of `nodes` two-core nodes that have an identity, tasks that reach Azurite, and a client for it. */
export async function standInOnAzurite(az: Azurite, rootDir: string, nodes = 2): Promise<{ batch: BatchStandIn; client: BatchClient }> {
  const batch = await startBatchStandIn({
    nodes,
    storageConnectionString: az.connectionString,
    // How workers on the simulated nodes reach Azurite; a real node uses its managed identity.
    taskEnvironment: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
    rootDir,
    pool: { vmSize: 'standard_d2s_v3', identity: { type: 'UserAssigned', userAssignedIdentities: [TEST_IDENTITY] } },
  });
  const client = new BatchClient(batch.url, new BatchSharedKeyCredential(batch.accountName, batch.accountKey), { retryOptions: { retryDelayInMs: 50, maxRetryDelayInMs: 500 } });
  return { batch, client };
}
