import type { Command } from 'commander';

/** Registers the `report` command. */
export function registerReport(_program: Command): void {}
