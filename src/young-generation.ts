import { setFlagsFromString } from 'node:v8';

let done: string | undefined;

// V8 sizes the young generation from these flags (`--max-heap-size` sets it too) when the process
// starts, and a flag on `node`'s command line or in NODE_OPTIONS is the user's choice. V8 accepts
// `_` for `-` in flag names.
const SET_BY_USER = /(?:^|\s)--(?:(?:max|min)[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|max[-_]heap[-_]size)(?:=|\s|$)/;

/**
 * Keeps V8's young generation at the size it starts with, for a process that converts images for
 * as long as it lives (the `pixbatch` command and the Batch bundle call it first thing).
 *
 * V8 doubles its semi-spaces each time the objects that survive a collection add up to their
 * size, and never gives the memory back while the process is busy. A conversion keeps a few
 * objects alive across each image's native work, so over the first 1,000-2,000 images the young
 * generation grows from 2 to 32 MiB (to 64 on Node 24): 800x600 images peaked at 113 MiB after
 * 1,000 images and at 137 after 10,000. With growth off, 107-110 and 115, for the same CPU
 * (README, "Memory against job size").
 *
 * Only the growth factor can still change once V8 is running (its maximum size is fixed by then),
 * so this sets that to 1. It leaves the young generation alone when `--max-semi-space-size`,
 * `--min-semi-space-size`, `--semi-space-growth-factor` or `--max-heap-size` is given to `node` or
 * in NODE_OPTIONS.
 * It is process-wide: a program that does more than convert images should weigh that first.
 *
 * @returns what applies: "kept at its starting size" or "default (set by node's flags)".
 * @example
 * import { capYoungGeneration } from 'pixbatch/allocator';
 * capYoungGeneration(); // then import 'pixbatch' and convert
 */
export function capYoungGeneration(): string {
  if (done) return done;
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (SET_BY_USER.test(flags)) return (done = "default (set by node's flags)");
  setFlagsFromString('--semi-space-growth-factor=1');
  return (done = 'kept at its starting size');
}
