import type { Command } from 'commander';

/** Registers the `worker` command. */
export function registerWorker(_program: Command): void {}
