import { readFile, access } from 'node:fs/promises';
import { resolve, isAbsolute } from 'node:path';
import { UsageError } from '../errors.js';
import {
  configFileSchema,
  DEFAULTS,
  describeIssues,
  fieldPath,
  type ConfigFile,
  type PriceTable,
  type ResolvedConfig,
} from './schema.js';

import { CONFIG_FILE_NAME } from './file-name.js';

export { CONFIG_FILE_NAME };

/**
 * Command-line values, as commander hands them over (strings or numbers). Unknown keys are ignored,
 * so a command can pass its whole options object.
 */
export interface ConfigFlags {
  /** `--config FILE`. */
  config?: string;
  subscription?: string;
  resourceGroup?: string;
  region?: string;
  /** Batch account name. */
  account?: string;
  accountUrl?: string;
  pool?: string;
  vmSize?: string;
  dedicated?: string | number;
  spot?: string | number;
  minNodes?: string | number;
  maxNodes?: string | number;
  spotShare?: string | number;
  /** Resource id of the user-assigned identity. */
  identity?: string;
  identityClientId?: string;
  storageAccount?: string;
  /** Spellings the `convert --pool` flags use. */
  batchAccountUrl?: string;
  identityResourceId?: string;
  [other: string]: unknown;
}

export interface LoadConfigOptions {
  flags?: ConfigFlags;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv | Record<string, string | undefined>;
  /** Where `pixbatch.config.json` is looked for; defaults to `process.cwd()`. */
  cwd?: string;
}

type Kind = 'string' | 'integer' | 'number';
interface Setting {
  /** `batch.poolId`. */
  path: string;
  env: string[];
  /** Option keys as commander names them; the first is this package's own flag. */
  flags?: string[];
  kind: Kind;
}

/**
 * Where each setting can come from. Azure's own variable names come first where one exists, so a
 * shell already set up for the Azure CLI works unchanged. `AZURE_CLIENT_ID` is deliberately not
 * read for the pool identity: on a workstation it names the caller's service principal.
 */
export const SETTINGS: readonly Setting[] = [
  { path: 'azure.subscriptionId', env: ['AZURE_SUBSCRIPTION_ID', 'PIXBATCH_SUBSCRIPTION_ID'], flags: ['subscription'], kind: 'string' },
  { path: 'azure.resourceGroup', env: ['PIXBATCH_RESOURCE_GROUP', 'AZURE_RESOURCE_GROUP'], flags: ['resourceGroup'], kind: 'string' },
  { path: 'azure.region', env: ['PIXBATCH_REGION', 'AZURE_LOCATION'], flags: ['region'], kind: 'string' },
  { path: 'azure.armEndpoint', env: ['PIXBATCH_ARM_ENDPOINT'], kind: 'string' },
  { path: 'batch.accountName', env: ['PIXBATCH_BATCH_ACCOUNT', 'AZURE_BATCH_ACCOUNT'], flags: ['account'], kind: 'string' },
  { path: 'batch.accountUrl', env: ['PIXBATCH_BATCH_URL', 'AZURE_BATCH_ENDPOINT'], flags: ['accountUrl', 'batchAccountUrl'], kind: 'string' },
  { path: 'batch.poolId', env: ['PIXBATCH_POOL_ID'], flags: ['pool'], kind: 'string' },
  { path: 'batch.vmSize', env: ['PIXBATCH_VM_SIZE'], flags: ['vmSize'], kind: 'string' },
  { path: 'batch.dedicatedNodes', env: ['PIXBATCH_DEDICATED_NODES'], flags: ['dedicated'], kind: 'integer' },
  { path: 'batch.spotNodes', env: ['PIXBATCH_SPOT_NODES'], flags: ['spot'], kind: 'integer' },
  { path: 'batch.minNodes', env: ['PIXBATCH_MIN_NODES'], flags: ['minNodes'], kind: 'integer' },
  { path: 'batch.maxNodes', env: ['PIXBATCH_MAX_NODES'], flags: ['maxNodes'], kind: 'integer' },
  { path: 'batch.spotShare', env: ['PIXBATCH_SPOT_SHARE'], flags: ['spotShare'], kind: 'number' },
  { path: 'identity.resourceId', env: ['PIXBATCH_IDENTITY_ID'], flags: ['identity', 'identityResourceId'], kind: 'string' },
  { path: 'identity.clientId', env: ['PIXBATCH_IDENTITY_CLIENT_ID'], flags: ['identityClientId'], kind: 'string' },
  { path: 'storage.account', env: ['AZURE_STORAGE_ACCOUNT', 'PIXBATCH_STORAGE_ACCOUNT'], flags: ['storageAccount'], kind: 'string' },
  { path: 'storage.inputContainer', env: ['PIXBATCH_INPUT_CONTAINER'], kind: 'string' },
  { path: 'storage.outputContainer', env: ['PIXBATCH_OUTPUT_CONTAINER'], kind: 'string' },
  { path: 'storage.scriptsContainer', env: ['PIXBATCH_SCRIPTS_CONTAINER'], kind: 'string' },
  { path: 'notify.emailEndpoint', env: ['PIXBATCH_EMAIL_ENDPOINT'], kind: 'string' },
  { path: 'notify.emailSender', env: ['PIXBATCH_EMAIL_SENDER'], kind: 'string' },
];

function flagName(flag: string): string {
  return `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function convert(value: unknown, kind: Kind, label: string): unknown {
  if (kind === 'string' || typeof value === 'number') return value;
  const text = String(value).trim();
  const ok = kind === 'integer' ? /^-?\d+$/.test(text) : text !== '' && Number.isFinite(Number(text));
  if (!ok) throw new UsageError(`${label}: expected ${kind === 'integer' ? 'an integer' : 'a number'} but received "${String(value)}"`);
  return Number(text);
}

function setPath(target: Record<string, any>, path: string, value: unknown): void {
  const [section, key] = path.split('.') as [string, string];
  (target[section] ??= {})[key] = value;
}

/** Builds one layer (environment or flags) and validates it, naming the variable or flag at fault. */
function layerFrom(source: 'env' | 'flags', values: Record<string, unknown>): ConfigFile {
  const layer: Record<string, any> = {};
  const labels = new Map<string, string>();
  for (const s of SETTINGS) {
    const names = source === 'env' ? s.env : (s.flags ?? []);
    for (const name of names) {
      const raw = values[name];
      if (raw === undefined || raw === null || raw === '') continue;
      const label = source === 'env' ? name : flagName(name);
      setPath(layer, s.path, convert(raw, s.kind, label));
      labels.set(s.path, label);
      break;
    }
  }
  const parsed = configFileSchema.safeParse(layer);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const label = labels.get(fieldPath(first.path.slice(0, 2))) ?? fieldPath(first.path);
    const [line] = describeIssues([first]);
    throw new UsageError(`${label} (${fieldPath(first.path)}): ${line!.slice(line!.indexOf(': ') + 2)}`);
  }
  return parsed.data;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads and validates a config file; every problem is one line naming the field. */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `config file not found: ${path}` : `cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`${path}: ${describeIssues(parsed.error.issues).join('; ')}`);
  }
  return parsed.data;
}

function mergePrices(base: PriceTable, over: Partial<PriceTable> | undefined): PriceTable {
  if (!over) return base;
  return {
    ...base,
    ...over,
    vm: { ...base.vm, ...(over.vm ?? {}) },
    storage: { ...base.storage, ...(over.storage ?? {}) },
  };
}

/**
 * Resolves the configuration: flags over environment over the config file over defaults.
 * The file is `--config`, else `PIXBATCH_CONFIG`, else `pixbatch.config.json` in `cwd` when present.
 *
 * @example
 * const config = await loadConfig({ flags: { pool: 'big' }, env: process.env, cwd: process.cwd() });
 * console.log(config.batch.poolId, config.storage.outputContainer); // "big" "converted"
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const env = (options.env ?? process.env) as Record<string, string | undefined>;
  const flags = options.flags ?? {};
  const cwd = options.cwd ?? process.cwd();
  const named = (typeof flags.config === 'string' && flags.config) || env.PIXBATCH_CONFIG || undefined;
  let file: string | undefined;
  if (named) file = isAbsolute(named) ? named : resolve(cwd, named);
  else if (await exists(resolve(cwd, CONFIG_FILE_NAME))) file = resolve(cwd, CONFIG_FILE_NAME);

  const fromFile = file ? await readConfigFile(file) : ({} as ConfigFile);
  const fromEnv = layerFrom('env', env);
  const fromFlags = layerFrom('flags', flags);

  const section = <K extends 'azure' | 'batch' | 'identity' | 'storage' | 'notify'>(key: K) => ({
    ...DEFAULTS[key],
    ...(fromFile[key] ?? {}),
    ...(fromEnv[key] ?? {}),
    ...(fromFlags[key] ?? {}),
  });
  const config: ResolvedConfig = {
    azure: section('azure') as ResolvedConfig['azure'],
    batch: section('batch') as ResolvedConfig['batch'],
    identity: section('identity'),
    storage: section('storage') as ResolvedConfig['storage'],
    notify: section('notify') as ResolvedConfig['notify'],
    prices: mergePrices(DEFAULTS.prices, fromFile.prices),
    ...(file ? { file } : {}),
  };
  config.azure.armEndpoint = config.azure.armEndpoint.replace(/\/+$/, '');
  if (config.batch.minNodes > config.batch.maxNodes) {
    throw new UsageError(`batch.minNodes: expected at most batch.maxNodes (${config.batch.maxNodes}) but received ${config.batch.minNodes}`);
  }
  return config;
}

/** Where a user sets a field, for "missing" messages. */
function whereToSet(path: string): string {
  const s = SETTINGS.find((x) => x.path === path);
  const places = [`"${path}" in ${CONFIG_FILE_NAME}`];
  if (s) places.push(...s.env);
  if (s?.flags) places.push(flagName(s.flags[0]!));
  return places.join(', ');
}

/** Throws one UsageError listing every required field that is still unset, and where to set each. */
export function requireConfig(config: ResolvedConfig, paths: readonly string[]): void {
  const missing = paths.filter((p) => {
    const [section, key] = p.split('.') as [keyof ResolvedConfig, string];
    const value = (config[section] as Record<string, unknown> | undefined)?.[key];
    return value === undefined || value === '';
  });
  if (missing.length) {
    throw new UsageError(`missing configuration: ${missing.map((p) => `${p} (set ${whereToSet(p)})`).join('; ')}`);
  }
}
