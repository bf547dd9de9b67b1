// Downloads a task's resource files the way a node does. With an identityReference the node would
// use its managed identity; here the account key from the storage connection string stands in for it.
// Without one, the URL must carry its own access (a SAS), exactly as on the service.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BlobClient, ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { ResourceFile } from '../../src/batch/client.js';

export class ResourceFileError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function accountCredential(connectionString: string | undefined): StorageSharedKeyCredential | undefined {
  if (!connectionString) return undefined;
  const parts = new Map(
    connectionString
      .split(';')
      .filter(Boolean)
      .map((p) => {
        const i = p.indexOf('=');
        return [p.slice(0, i), p.slice(i + 1)] as const;
      }),
  );
  const name = parts.get('AccountName');
  const key = parts.get('AccountKey');
  return name && key ? new StorageSharedKeyCredential(name, key) : undefined;
}

function codeFor(err: unknown): string {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 404) return 'BlobNotFound';
  if (status === 403 || status === 401) return 'BlobAccessDenied';
  return 'BlobDownloadMiscError';
}

export async function downloadResourceFiles(
  files: ResourceFile[] | undefined,
  workingDir: string,
  opts: { storageConnectionString?: string; poolIdentities?: string[] },
): Promise<void> {
  const cred = accountCredential(opts.storageConnectionString);
  for (const f of files ?? []) {
    const source = f.httpUrl ?? f.storageContainerUrl ?? f.autoStorageContainerName ?? '';
    if (f.identityReference) {
      if (opts.poolIdentities && !opts.poolIdentities.includes(f.identityReference.resourceId)) {
        throw new ResourceFileError('BlobAccessDenied', `The identity ${f.identityReference.resourceId} is not assigned to the pool`);
      }
      if (!cred) throw new ResourceFileError('BlobAccessDenied', `No identity can reach ${source}`);
    }
    const useCred = f.identityReference ? cred : undefined;
    try {
      if (f.httpUrl) {
        const target = join(workingDir, f.filePath!);
        await mkdir(dirname(target), { recursive: true });
        if (useCred) {
          await new BlobClient(f.httpUrl, useCred).downloadToFile(target);
        } else {
          const res = await fetch(f.httpUrl);
          if (!res.ok) throw Object.assign(new Error(`GET ${f.httpUrl} answered ${res.status}`), { statusCode: res.status });
          await writeFile(target, Buffer.from(await res.arrayBuffer()));
        }
        if (f.fileMode) await chmod(target, parseInt(f.fileMode, 8));
      } else if (f.storageContainerUrl) {
        const container = useCred ? new ContainerClient(f.storageContainerUrl, useCred) : new ContainerClient(f.storageContainerUrl);
        for await (const blob of container.listBlobsFlat({ prefix: f.blobPrefix })) {
          const target = join(workingDir, f.filePath ?? '', blob.name);
          await mkdir(dirname(target), { recursive: true });
          await container.getBlobClient(blob.name).downloadToFile(target);
          if (f.fileMode) await chmod(target, parseInt(f.fileMode, 8));
        }
      } else {
        throw new ResourceFileError('AutoStorageNotConfigured', 'This account has no auto-storage account');
      }
    } catch (err) {
      if (err instanceof ResourceFileError) throw err;
      throw new ResourceFileError(codeFor(err), `Could not download ${source}: ${(err as Error).message}`);
    }
  }
}
