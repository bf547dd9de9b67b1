import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EmailSettings } from '../report/email.js';
import { CONFIG_FILE_NAME } from './file-name.js';

export interface NotifySettings {
  /** Webhook URLs and `mailto:` targets. */
  notify: string[];
  /** Endpoint and sender for `mailto:` targets (the environment fills what the file leaves out). */
  email: EmailSettings;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Who is told when a job ends: `--notify` values, else `notify.to` of the config file; and the mail settings
 * from its `notify` section. Without a config file nothing is read, so a plain local run starts as fast as before.
 */
export async function notifySettings(
  flags: { notify?: string[]; config?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Promise<NotifySettings> {
  const named = flags.config || env.PIXBATCH_CONFIG;
  if (!named && !(await exists(resolve(cwd, CONFIG_FILE_NAME)))) return { notify: flags.notify ?? [], email: {} };
  // Only the notify settings are read from the environment: other variables do not concern this command.
  const { loadConfig } = await import('./load.js');
  const config = await loadConfig({
    flags: { config: flags.config },
    env: { PIXBATCH_CONFIG: env.PIXBATCH_CONFIG, PIXBATCH_EMAIL_ENDPOINT: env.PIXBATCH_EMAIL_ENDPOINT, PIXBATCH_EMAIL_SENDER: env.PIXBATCH_EMAIL_SENDER },
    cwd,
  });
  return {
    notify: flags.notify ?? config.notify.to,
    email: { endpoint: config.notify.emailEndpoint, sender: config.notify.emailSender },
  };
}
