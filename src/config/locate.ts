import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { CONFIG_FILE_NAME } from './file-name.js';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The config file in force: `--config FILE`, else `PIXBATCH_CONFIG`, else `pixbatch.config.json` in
 * `cwd` when there is one. Kept apart from the schema so a command can learn there is no file
 * without loading the validator.
 */
export async function locateConfigFile(options: { config?: unknown; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<string | undefined> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = (typeof options.config === 'string' && options.config) || env.PIXBATCH_CONFIG || undefined;
  if (named) return isAbsolute(named) ? named : resolve(cwd, named);
  const here = resolve(cwd, CONFIG_FILE_NAME);
  return (await exists(here)) ? here : undefined;
}
