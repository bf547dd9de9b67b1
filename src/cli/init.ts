import type { Command } from 'commander';
import { resolve } from 'node:path';

/**
 * Registers the `init` command: writes a starting `pixbatch.config.json`. The config modules (and
 * zod with them) load only when it runs, so the help text spells the file name out as the config flags do.
 */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a starting pixbatch.config.json to fill in (subscription, Batch account, pool, identity, storage, prices)')
    .argument('[file]', 'where to write it (default: "pixbatch.config.json")')
    .option('--force', 'overwrite an existing file')
    .option('--subscription <id>', 'subscription id to fill in (default: AZURE_SUBSCRIPTION_ID)')
    .option('--resource-group <name>', 'resource group to fill in')
    .option('--region <name>', 'region to fill in, e.g. eastus')
    .action(async (file: string | undefined, opts: { force?: boolean; subscription?: string; resourceGroup?: string; region?: string }) => {
      const [{ CONFIG_FILE_NAME }, { writeStarterConfig }] = await Promise.all([import('../config/load.js'), import('../config/starter.js')]);
      const path = resolve(file ?? CONFIG_FILE_NAME);
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
