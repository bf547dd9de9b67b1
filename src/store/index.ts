import { resolve, sep } from 'node:path';
import type { Store } from '../interfaces.js';
import { FsStore } from './fs.js';

/** True when a location names Blob Storage rather than a folder. */
export function isRemoteLocation(location: string): boolean {
  return /^(https?|az):\/\//i.test(location);
}

export interface OpenStoreOptions {
  /** Absolute folders a file-system source must not walk into (a destination inside it). */
  skipDirs?: string[];
}

/**
 * Opens a location as a Store: a folder path, `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`
 * or `az://CONTAINER/PREFIX`.
 */
export async function openStore(location: string, role: 'source' | 'destination', options: OpenStoreOptions = {}): Promise<Store> {
  if (isRemoteLocation(location)) {
    const { openBlobStore } = await import('./blob-open.js');
    return openBlobStore(location, role);
  }
  return new FsStore(location, { skipDirs: options.skipDirs });
}

/** The folder `inner` when it lies inside `outer` (both local), so the walk of `outer` can leave it out. */
export function nestedFolder(outer: string, inner: string): string | undefined {
  if (isRemoteLocation(outer) || isRemoteLocation(inner)) return undefined;
  const o = resolve(outer);
  const i = resolve(inner);
  return i.startsWith(o + sep) ? i : undefined;
}
