import type { Command } from 'commander';

/** Registers the `batch` command. */
export function registerBatch(_program: Command): void {}
