import { writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { DEFAULT_PRICES } from '../cost/prices.js';
import { DEFAULTS, type ConfigFile } from './schema.js';

/** What `pixbatch init` writes: every field, placeholders where only the user knows the value. */
export function starterConfig(values: { subscriptionId?: string; resourceGroup?: string; region?: string } = {}): ConfigFile {
  const sub = values.subscriptionId ?? '00000000-0000-0000-0000-000000000000';
  const rg = values.resourceGroup ?? 'pixbatch-rg';
  return {
    azure: { subscriptionId: sub, resourceGroup: rg, region: values.region ?? 'eastus' },
    batch: {
      accountName: 'pixbatchaccount',
      accountUrl: `https://pixbatchaccount.${values.region ?? 'eastus'}.batch.azure.com`,
      ...DEFAULTS.batch,
    },
    identity: {
      resourceId: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pixbatch-identity`,
      clientId: '00000000-0000-0000-0000-000000000000',
    },
    storage: { account: 'pixbatchstorage', inputContainer: 'images', outputContainer: 'converted', scriptsContainer: 'scripts' },
    // Nobody is told until `to` names someone: webhook URLs or mailto:ADDRESS (docs/notifications.md).
    notify: { to: [], emailEndpoint: 'https://pixbatch-acs.communication.azure.com', emailSender: 'DoNotReply@your-domain.azurecomm.net' },
    prices: DEFAULT_PRICES,
  };
}

/**
 * Writes a starting config file; refuses to replace an existing one unless `force`.
 *
 * @example
 * await writeStarterConfig('pixbatch.config.json', { force: false });
 */
export async function writeStarterConfig(path: string, options: { force?: boolean; values?: Parameters<typeof starterConfig>[0] } = {}): Promise<void> {
  const text = `${JSON.stringify(starterConfig(options.values), null, 2)}\n`;
  try {
    await writeFile(path, text, { flag: options.force ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${path} already exists; pass --force to overwrite it`);
    }
    throw err;
  }
}
