import type { Command } from 'commander';
import { resolve } from 'node:path';
import { CONFIG_FILE_NAME } from '../config/load.js';
import { writeStarterConfig } from '../config/starter.js';

/** Registers the `init` command: writes a starting `pixbatch.config.json`. */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description(`write a starting ${CONFIG_FILE_NAME} to fill in (subscription, Batch account, pool, identity, storage, prices)`)
    .argument('[file]', 'where to write it', CONFIG_FILE_NAME)
    .option('--force', 'overwrite an existing file')
    .option('--subscription <id>', 'subscription id to fill in (default: AZURE_SUBSCRIPTION_ID)')
    .option('--resource-group <name>', 'resource group to fill in')
    .option('--region <name>', 'region to fill in, e.g. eastus')
    .action(async (file: string, opts: { force?: boolean; subscription?: string; resourceGroup?: string; region?: string }) => {
      const path = resolve(file);
      await writeStarterConfig(path, {
        force: opts.force === true,
        values: {
          subscriptionId: opts.subscription ?? process.env.AZURE_SUBSCRIPTION_ID,
          resourceGroup: opts.resourceGroup,
          region: opts.region,
        },
      });
      process.stdout.write(`wrote ${path}; fill in the Batch account, identity and storage account, then run: pixbatch batch pool create\n`);
    });
}
