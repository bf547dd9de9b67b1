// Shared set-up of the Batch engine's tests: Azurite with generated images, the bundle built once.
import { after, before } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
  const previous = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
  return {
    ...az,
    restore() {
      if (previous === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = previous;
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

/** What `useBatchStandIn` starts; each field can be read once the file's `before` hooks have run. */
export interface BatchStandInOnAzurite {
  /** Azurite, with this process's storage credentials pointed at it. */
  readonly azurite: Azurite & { restore(): void };
  readonly batch: BatchStandIn;
  readonly client: BatchClient;
  /** A scratch folder of this file's own; the stand-in's nodes live in its `batch` folder. */
  readonly dir: string;
  /** The variables the pixbatch CLI reads to reach this Azurite and this Batch account. */
  readonly cliEnv: Record<string, string>;
}

/**
 * Registers `before`/`after` hooks that start Azurite and the Batch stand-in (`nodes` nodes) in a
 * fresh scratch folder named after `name`, and stop and remove them all when the file's tests end.
 *
 * @example
 * const e2e = useBatchStandIn('e2e');
 * test('…', async () => { await uploadImages(`${e2e.azurite.blobEndpoint}/in`, 5); … e2e.batch.poolId … });
 */
export function useBatchStandIn(name: string, nodes = 2): BatchStandInOnAzurite {
  let azurite: (Azurite & { restore(): void }) | undefined;
  let started: { batch: BatchStandIn; client: BatchClient } | undefined;
  let dir: string | undefined;
  before(async () => {
    azurite = await storage();
    dir = await mkdtemp(join(tmpdir(), `pixbatch-${name}-`));
    started = await standInOnAzurite(azurite, join(dir, 'batch'), nodes);
  });
  after(async () => {
    await started?.batch.stop();
    azurite?.restore();
    await azurite?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  // Read at module level, a field would be undefined; say so instead of failing later on `undefined.x`.
  const ready = <T>(value: T | undefined, field: string): T => {
    if (value === undefined) throw new Error(`useBatchStandIn: ${field} is read before the before hook ran`);
    return value;
  };
  return {
    get azurite() { return ready(azurite, 'azurite'); },
    get batch() { return ready(started, 'batch').batch; },
    get client() { return ready(started, 'client').client; },
    get dir() { return ready(dir, 'dir'); },
    get cliEnv() {
      const { batch } = ready(started, 'cliEnv');
      return {
        AZURE_STORAGE_CONNECTION_STRING: ready(azurite, 'cliEnv').connectionString,
        AZURE_BATCH_ACCOUNT: batch.accountName,
        AZURE_BATCH_ACCESS_KEY: batch.accountKey,
        AZURE_BATCH_ENDPOINT: batch.url,
      };
    },
  };
}
