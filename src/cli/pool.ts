import type { Command } from 'commander';
import { addConfigFlags } from '../config/flags.js';
import type { CommonOpts } from './pool-actions.js';

function withWaitFlags(cmd: Command): Command {
  return cmd
    .option('--no-wait', 'return once the service accepted the change')
    .option('--poll-interval <seconds>', 'seconds between status checks', '10')
    .option('--timeout <minutes>', 'stop waiting after this many minutes', '30')
    .option('--json', 'print the pool state as JSON');
}

/** Registers `batch pool create|show|resize|autoscale|delete` under the `batch` command; each loads its work when it runs. */
export function registerPool(program: Command): void {
  const batch =
    program.commands.find((c) => c.name() === 'batch') ??
    program.command('batch').description('run conversions on an Azure Batch pool and manage the pool');
  const pool = batch.command('pool').description('create, inspect, resize, autoscale and delete the Batch pool (through Azure Resource Manager)');

  withWaitFlags(addConfigFlags(pool.command('create'), { nodes: true }))
    .description('create the pool: Ubuntu 22.04, the VM size, dedicated + spot nodes, the managed identity, one task per node; waits until it is steady')
    .option('--autoscale', 'start under the generated autoscale formula (min/max nodes, spot share) instead of a fixed size')
    .option('--min-nodes <n>', 'with --autoscale: fewest nodes')
    .option('--max-nodes <n>', 'with --autoscale: most nodes')
    .option('--spot-share <fraction>', 'with --autoscale: share of nodes that are spot, 0-1')
    .option('--interval <duration>', 'with --autoscale: evaluation interval, at least 5 minutes', 'PT5M')
    .action(async (opts: CommonOpts & { autoscale?: boolean; interval?: string }) => (await import('./pool-actions.js')).createPoolCommand(opts));

  addConfigFlags(pool.command('show'))
    .description('show the pool: allocation state, nodes, scale settings, resize errors')
    .option('--json', 'print the pool state as JSON')
    .action(async (opts: CommonOpts) => (await import('./pool-actions.js')).showPoolCommand(opts));

  withWaitFlags(addConfigFlags(pool.command('resize')))
    .description('set fixed dedicated and spot node counts (turns autoscale off); waits until steady')
    .option('--dedicated <n>', 'dedicated nodes (default: keep the current target)')
    .option('--spot <n>', 'spot (low-priority) nodes (default: keep the current target)')
    .action(async (opts: CommonOpts) => (await import('./pool-actions.js')).resizePoolCommand(opts));

  addConfigFlags(pool.command('autoscale'))
    .description('scale the pool from pending tasks: prints the formula it sets')
    .option('--min-nodes <n>', 'fewest nodes (default: batch.minNodes, 0)')
    .option('--max-nodes <n>', 'most nodes (default: batch.maxNodes, 10)')
    .option('--spot-share <fraction>', 'share of nodes that are spot, 0-1 (default: batch.spotShare, 1)')
    .option('--interval <duration>', 'evaluation interval, at least 5 minutes (PT5M, 10m, 1h)', 'PT5M')
    .option('--formula <text>', 'use this autoscale formula instead of the generated one')
    .option('--print', 'print the formula without changing the pool')
    .option('--json', 'print the pool state as JSON')
    .action(async (opts: CommonOpts & { interval?: string; formula?: string; print?: boolean }) => (await import('./pool-actions.js')).autoscalePoolCommand(opts));

  addConfigFlags(pool.command('delete'))
    .description('delete the pool and its nodes (asks first unless --yes)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-wait', 'return once the service accepted the deletion')
    .option('--poll-interval <seconds>', 'seconds between status checks', '10')
    .action(async (opts: CommonOpts & { yes?: boolean }) => (await import('./pool-actions.js')).deletePoolCommand(opts));
}
