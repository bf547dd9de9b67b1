import type { Command } from 'commander';

/** Registers the `convert` command. */
export function registerConvert(_program: Command): void {}
