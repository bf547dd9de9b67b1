import type { Command } from 'commander';

/** Registers the `generate` command. */
export function registerGenerate(_program: Command): void {}
