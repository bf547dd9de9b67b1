import type { Command } from 'commander';

/** Registers the `init` command. */
export function registerInit(_program: Command): void {}
