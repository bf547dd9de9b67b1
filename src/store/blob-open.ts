import { UsageError } from '../errors.js';
import type { Store } from '../interfaces.js';

/** Opens a Blob Storage location. Replaced by the Blob Storage store once it lands. */
export async function openBlobStore(location: string, _role: 'source' | 'destination'): Promise<Store> {
  throw new UsageError(`Blob Storage locations are not supported yet: ${location.split('?')[0]}`);
}
