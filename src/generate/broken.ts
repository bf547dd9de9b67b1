// Broken files for `generate --corrupt K`: the kinds of bad input a real photo folder contains.
import type { Random } from './random.js';

export type BrokenKind = 'truncated' | 'empty' | 'text';

/** In the order `--corrupt K` cycles through them, so any K >= 3 has every kind. */
export const BROKEN_KINDS: readonly BrokenKind[] = ['truncated', 'empty', 'text'];

/**
 * The bytes of one broken file.
 * - `truncated`: a real JPEG cut off part-way through its image data (an interrupted copy or upload);
 * - `empty`: zero bytes (a file created but never written);
 * - `text`: plain text saved under a `.jpg` name.
 */
export function brokenBytes(kind: BrokenKind, jpeg: Buffer, rng: Random): Buffer {
  switch (kind) {
    case 'truncated': {
      // Keep at least the headers and a little scan data, drop at least a third of the file.
      const keep = Math.floor(jpeg.length * rng.range(0.3, 0.66));
      return Buffer.from(jpeg.subarray(0, Math.max(keep, Math.min(jpeg.length - 1, 1024))));
    }
    case 'empty':
      return Buffer.alloc(0);
    case 'text':
      return Buffer.from(`This is not a picture.\nIt is a text file that was saved with a .jpg name (${rng.uint32().toString(16)}).\n`, 'utf8');
  }
}
