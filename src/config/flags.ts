import type { Command } from 'commander';

/**
 * Adds the flags every Azure command shares (`--config`, `--subscription`, `--resource-group`,
 * `--account`, `--pool`, ...). Their values go straight into `loadConfig({ flags: command.opts() })`.
 */
export function addConfigFlags(command: Command, which: { pool?: boolean; nodes?: boolean } = {}): Command {
  command
    .option('--config <file>', 'config file (default: pixbatch.config.json, or PIXBATCH_CONFIG)')
    .option('--subscription <id>', 'Azure subscription id (AZURE_SUBSCRIPTION_ID)')
    .option('--resource-group <name>', 'resource group of the Batch account')
    .option('--account <name>', 'Batch account name (AZURE_BATCH_ACCOUNT)');
  if (which.pool !== false) command.option('--pool <id>', 'pool id (PIXBATCH_POOL_ID)');
  if (which.nodes) {
    command
      .option('--vm-size <size>', 'VM size, e.g. Standard_D2s_v3')
      .option('--dedicated <n>', 'dedicated node count')
      .option('--spot <n>', 'spot (low-priority) node count')
      .option('--identity <resourceId>', 'resource id of the user-assigned managed identity');
  }
  return command;
}
