import type { Command } from 'commander';

/** Registers `batch pool create|show|resize|autoscale|delete` under the `batch` command. */
export function registerPool(_program: Command): void {}
