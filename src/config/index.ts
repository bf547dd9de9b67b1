// Configuration: `pixbatch.config.json`, environment and flags, resolved in that order of strength.
export { loadConfig, readConfigFile, requireConfig, CONFIG_FILE_NAME, SETTINGS } from './load.js';
export type { ConfigFlags, LoadConfigOptions } from './load.js';
export { configFileSchema, priceTableSchema, DEFAULTS } from './schema.js';
export type { ConfigFile, PriceTable, ResolvedConfig } from './schema.js';
export { starterConfig, writeStarterConfig } from './starter.js';
export { addConfigFlags } from './flags.js';
export { notifySettings } from './notify.js';
export type { NotifySettings } from './notify.js';
export { applyTelemetryConfig, telemetryVariablesOf } from './telemetry.js';
