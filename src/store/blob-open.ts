import type { Store } from '../interfaces.js';
import { openBlobStore as open, type BlobStoreOptions } from './blob.js';

/**
 * Opens a Blob Storage location (`https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`, an emulator URL or
 * `az://CONTAINER/PREFIX`) as a Store; the credential comes from the environment (see credentials.ts).
 * Loaded only when a location is remote, so folder-only runs never load the Azure SDK.
 */
export async function openBlobStore(location: string, _role: 'source' | 'destination', options: BlobStoreOptions = {}): Promise<Store> {
  return open(location, options);
}
